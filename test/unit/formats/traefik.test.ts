// traefik: StartUTC with nanoseconds, Duration ns, Request*/Client* keys, request_<Header> keys.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { traefik } from '../../../src/formats/traefik.js'
import { fixtureLines, runCases, type Case } from '../../helpers/format-cases.js'

const lines = fixtureLines('traefik.ndjson')

describe('traefik fixture (fixtures/logs/traefik.ndjson)', () => {
  runCases(traefik, [
    { name: 'line 1: a Traefik log line that is not an access entry is skipped', line: lines[0]!, expected: { issue: 'not_an_access_entry', kind: 'skip' } },
    {
      name: 'line 2: every field; StartUTC with nanoseconds; Duration in ns',
      line: lines[1]!,
      expected: {
        timeMs: Date.UTC(2025, 10, 25, 10, 0, 1, 123),
        method: 'GET',
        scheme: 'https',
        host: 'www.example.org',
        path: '/blog/2025/11/hello',
        query: 'utm_source=feed',
        status: 200,
        userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
        referer: 'https://www.google.com/',
        acceptLanguage: 'de-DE,de;q=0.9',
        remoteAddress: '172.18.0.1',
        forwardedFor: '203.0.113.9',
        responseTimeMs: 12.603,
        userId: undefined
      }
    },
    { name: 'line 3: IPv6 client, status and Duration as strings, ClientUsername', line: lines[2]!, expected: { remoteAddress: '2001:db8::7', status: 404, responseTimeMs: 0.85, userId: 'bob', method: 'HEAD', timeMs: Date.UTC(2025, 10, 25, 10, 0, 2) } },
    { name: 'line 4: no StartUTC: `time` with its offset is used', line: lines[3]!, expected: { timeMs: Date.UTC(2025, 10, 25, 10, 0, 3), path: '/', query: undefined } }
  ])
})

describe('traefik values', () => {
  const base = { ClientHost: '192.0.2.1', DownstreamStatus: 200, Duration: 1000, RequestHost: 'h', RequestMethod: 'GET', RequestPath: '/x', StartUTC: '2025-11-25T10:00:00Z', level: 'info', msg: '', time: '2025-11-25T11:00:00+01:00' }
  const cases: Case[] = [
    { name: 'no time at all', line: { ...base, StartUTC: undefined, time: undefined }, expected: { issue: 'missing_field:StartUTC' } },
    { name: 'a time that is not RFC 3339', line: { ...base, StartUTC: 'Tue Nov 25' }, expected: { issue: 'invalid_time' } },
    { name: 'a status that is not a number', line: { ...base, DownstreamStatus: 'x' }, expected: { issue: 'invalid_field:DownstreamStatus' } },
    { name: 'no RequestPath and no log keys', line: { foo: 1 }, expected: { issue: 'missing_field:RequestPath' } },
    { name: 'kept X-Forwarded-Host / -Proto (first of a list) win over RequestHost / RequestScheme', line: { ...base, RequestScheme: 'http', 'request_X-Forwarded-Host': 'www.example.org, lb', 'request_X-Forwarded-Proto': 'https' }, expected: { host: 'www.example.org', scheme: 'https' } },
    { name: 'without them, RequestHost and RequestScheme', line: { ...base, RequestScheme: 'http' }, expected: { host: 'h', scheme: 'http' } },
    {
      name: 'REDACTED (headers or fields in redact mode) counts as absent',
      line: { ...base, RequestScheme: 'https', 'request_X-Forwarded-Host': 'REDACTED', 'request_X-Forwarded-Proto': 'REDACTED', 'request_User-Agent': 'REDACTED', request_Referer: 'REDACTED', ClientUsername: 'REDACTED', StartUTC: 'REDACTED' },
      expected: { host: 'h', scheme: 'https', userAgent: undefined, referer: undefined, userId: undefined, timeMs: Date.UTC(2025, 10, 25, 10) }
    },
    { name: 'a redacted RequestHost leaves no host (then --host)', line: { ...base, RequestHost: 'REDACTED' }, expected: { host: undefined } },
    { name: 'a redacted RequestPath is rejected, not filtered as a log line', line: { ...base, RequestPath: 'REDACTED' }, expected: { issue: 'missing_field:RequestPath' } }
  ]
  runCases(traefik, cases)

  test('sniff: a pino line (msg, level, time) is never Traefik (import_logs.py takes it for traefik_json)', () => {
    assert.equal(traefik.sniff({ level: 30, time: 1764064800000, pid: 1, hostname: 'h', msg: 'server listening' }), false)
    assert.equal(traefik.sniff({ level: 30, time: 1, req: { url: '/' }, res: { statusCode: 200 }, msg: 'request completed' }), false)
    assert.equal(traefik.sniff({ level: 'info', msg: 'Configuration loaded', time: '2025-11-25T11:00:00+01:00' }), false)
    assert.equal(traefik.sniff(base), true)
  })
})
