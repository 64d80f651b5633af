// caddy: ts epoch seconds, request{...} with Go-style header arrays, duration seconds, client_ip, user_id.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { caddy } from '../../../src/formats/caddy.js'
import { fixtureLines, runCases, type Case } from '../../helpers/format-cases.js'

const lines = fixtureLines('caddy.ndjson')

describe('caddy fixture (fixtures/logs/caddy.ndjson)', () => {
  runCases(caddy, [
    { name: 'line 1: a Caddy log line that is not an access entry is skipped', line: lines[0]!, expected: { issue: 'not_an_access_entry', kind: 'skip' } },
    {
      name: 'line 2: every field, TLS means https, ts float seconds, duration seconds',
      line: lines[1]!,
      expected: {
        timeMs: 1764064800.5241024 * 1000,
        method: 'GET',
        host: 'shop.example.org',
        path: '/products/42',
        query: 'ref=mail',
        scheme: 'https',
        status: 200,
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
        acceptLanguage: 'fr-FR,fr;q=0.9',
        referer: 'https://mail.example.com/',
        remoteAddress: '203.0.113.9',
        forwardedFor: undefined,
        responseTimeMs: 0.000929675 * 1000,
        userId: undefined
      }
    },
    { name: 'line 3: client_ip resolved by Caddy wins and X-Forwarded-For is not read again; X-Forwarded-Proto; user_id', line: lines[2]!, expected: { remoteAddress: '198.51.100.7', forwardedFor: undefined, scheme: 'https', userId: 'alice', status: 303, timeMs: 1764064801000 } },
    { name: 'line 4: IPv6, 1.5 s duration', line: lines[3]!, expected: { remoteAddress: '2001:db8::5', responseTimeMs: 1500, status: 502, scheme: 'http' } },
    { name: 'line 5: ts, duration and status as numeric strings', line: lines[4]!, expected: { timeMs: 1764064803750, responseTimeMs: 0.1, status: 200 } }
  ])
})

const base = { level: 'info', ts: 1764064800.5, logger: 'http.log.access', msg: 'handled request', request: { remote_ip: '192.0.2.1', client_ip: '192.0.2.1', method: 'GET', host: 'h.example', uri: '/x', headers: { 'X-Forwarded-For': ['203.0.113.1, 192.0.2.1'] } }, duration: 0.002, status: 200, user_id: '' }

describe('caddy values', () => {
  const cases: Case[] = [
    { name: 'X-Forwarded-For is read when Caddy did not resolve the client', line: base, expected: { remoteAddress: '192.0.2.1', forwardedFor: '203.0.113.1, 192.0.2.1' } },
    // A client sends its own X-Forwarded-For line; the proxy adds another below it: both count, in order.
    { name: 'several X-Forwarded-For header lines are joined, not cut to the first', line: { ...base, request: { ...base.request, headers: { 'X-Forwarded-For': ['1.2.3.4', '203.0.113.9'] } } }, expected: { forwardedFor: '1.2.3.4, 203.0.113.9' } },
    { name: 'duration_format string (Go duration)', line: { ...base, duration: '1.5ms' }, expected: { responseTimeMs: 1.5 } },
    { name: 'time_format rfc3339', line: { ...base, ts: '2025-11-25T10:00:00.5Z' }, expected: { timeMs: Date.UTC(2025, 10, 25, 10, 0, 0, 500) } },
    { name: 'missing ts', line: { ...base, ts: undefined }, expected: { issue: 'missing_field:ts' } },
    { name: 'ts that is not a time', line: { ...base, ts: 'soon' }, expected: { issue: 'invalid_time' } },
    { name: 'missing request.uri', line: { ...base, request: { method: 'GET' } }, expected: { issue: 'missing_field:request.uri' } },
    { name: 'status that is not a number', line: { ...base, status: 'fine' }, expected: { issue: 'invalid_field:status' } },
    { name: 'no request and no log keys', line: { foo: 1 }, expected: { issue: 'missing_field:request' } },
    { name: 'empty user_id is absent', line: base, expected: { userId: undefined } },
    { name: 'X-Forwarded-Host (first of a list) wins over request.host', line: { ...base, request: { ...base.request, headers: { 'X-Forwarded-Host': ['www.example.org, lb'] } } }, expected: { host: 'www.example.org' } },
    { name: 'without X-Forwarded-Host, request.host', line: base, expected: { host: 'h.example' } }
  ]
  runCases(caddy, cases)

  test('sniff needs request, ts and status', () => {
    assert.equal(caddy.sniff(base), true)
    assert.equal(caddy.sniff({ level: 'info', ts: 1, msg: 'x' }), false)
    assert.equal(caddy.sniff({ level: 30, time: 1, req: {}, res: {}, msg: '' }), false)
  })
})
