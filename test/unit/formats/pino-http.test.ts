// pino-http: default serializers read exactly, plain pino lines skipped, bad values rejected by reason.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { pinoHttp } from '../../../src/formats/pino-http.js'
import { fixtureLines, runCases, type Case } from '../../helpers/format-cases.js'

const lines = fixtureLines('pino-http.ndjson')

describe('pino-http fixture (fixtures/logs/pino-http.ndjson)', () => {
  runCases(pinoHttp, [
    { name: 'line 1: a plain pino line is skipped as not_an_access_entry', line: lines[0]!, expected: { issue: 'not_an_access_entry', kind: 'skip' } },
    {
      name: 'line 2: every field of the default serializers',
      line: lines[1]!,
      expected: {
        method: 'GET',
        host: 'api.example.org',
        path: '/api/users',
        query: 'page=2',
        status: 200,
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
        referer: 'https://www.example.org/account',
        acceptLanguage: 'en-GB,en;q=0.9',
        remoteAddress: '::ffff:10.0.0.2',
        forwardedFor: '203.0.113.9, 10.0.0.2',
        responseTimeMs: 12.6,
        timeMs: 1764064801123,
        error: undefined,
        requestId: '1',
        trackingData: undefined
      }
    },
    { name: 'line 4: per-request tracking data under the matomo key', line: lines[3]!, expected: { trackingData: { e_c: 'orders', e_a: 'created', cvar: { plan: 'pro' } }, status: 201, method: 'POST' } },
    { name: 'line 5: err becomes "Type: message"', line: lines[4]!, expected: { error: "TypeError: Cannot read properties of undefined (reading 'id')", status: 500 } },
    { name: 'line 8: not JSON', line: lines[7]!, expected: { issue: 'invalid_json' } },
    { name: 'line 9: a time that is not epoch ms', line: lines[8]!, expected: { issue: 'invalid_time' } }
  ])
})

const base = {
  level: 30,
  time: 1764064801123,
  req: { id: 'a1', method: 'GET', url: '/x?y=1', headers: { host: 'h.example' }, remoteAddress: '192.0.2.1' },
  res: { statusCode: 200 },
  responseTime: 5,
  msg: 'request completed'
}
function withReq (extra: Record<string, unknown>, top: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...base, ...top, req: { ...base.req, ...extra } }
}

describe('pino-http values', () => {
  const cases: Case[] = [
    { name: 'x-forwarded-host (first of a list) wins over host', line: withReq({ headers: { host: 'internal:3000', 'x-forwarded-host': 'www.example.org, proxy' } }), expected: { host: 'www.example.org' } },
    { name: 'x-forwarded-proto gives the scheme', line: withReq({ headers: { host: 'h', 'x-forwarded-proto': 'https,http' } }), expected: { scheme: 'https' } },
    { name: 'headers logged as arrays', line: withReq({ headers: { host: ['a.example'], 'user-agent': ['UA/1'] } }), expected: { host: 'a.example', userAgent: 'UA/1' } },
    { name: 'time as a numeric string', line: { ...base, time: '1764064801123' }, expected: { timeMs: 1764064801123 } },
    { name: 'time as RFC 3339 (pino.stdTimeFunctions.isoTime)', line: { ...base, time: '2025-11-25T10:00:01.123Z' }, expected: { timeMs: Date.UTC(2025, 10, 25, 10, 0, 1, 123) } },
    { name: 'statusCode as a numeric string', line: { ...base, res: { statusCode: '404' } }, expected: { status: 404 } },
    { name: 'statusCode null (headers never sent) is absent', line: { ...base, res: { statusCode: null } }, expected: { status: undefined } },
    { name: 'statusCode that is not a number', line: { ...base, res: { statusCode: 'OK' } }, expected: { issue: 'invalid_field:res.statusCode' } },
    { name: 'missing time', line: { ...base, time: undefined }, expected: { issue: 'missing_field:time' } },
    { name: 'missing req.url', line: withReq({ url: undefined }), expected: { issue: 'missing_field:req.url' } },
    { name: 'req without res, with level/msg: an app log line, skipped', line: { level: 30, time: 1, req: base.req, msg: 'incoming request' }, expected: { issue: 'not_an_access_entry', kind: 'skip' } },
    { name: 'no req, no pino keys: rejected', line: { a: 1 }, expected: { issue: 'missing_field:req' } },
    { name: 'numeric req.id', line: withReq({ id: 7 }), expected: { requestId: '7' } },
    { name: 'err as a string', line: { ...base, err: 'socket hang up' }, expected: { error: 'socket hang up' } },
    { name: 'IPv6 remote address', line: withReq({ remoteAddress: '2001:db8::1' }), expected: { remoteAddress: '2001:db8::1' } },
    { name: '"-" referer is absent', line: withReq({ headers: { host: 'h', referer: '-' } }), expected: { referer: undefined } },
    { name: 'absolute-form url keeps path and query', line: withReq({ url: 'http://other.example/p?q=1' }), expected: { path: '/p', query: 'q=1' } }
  ]
  runCases(pinoHttp, cases)
})

describe('pinoHttp.sniff', () => {
  test('needs req and res objects', () => {
    assert.equal(pinoHttp.sniff(base), true)
    assert.equal(pinoHttp.sniff({ level: 30, time: 1, msg: 'hi' }), false)
    assert.equal(pinoHttp.sniff({ req: 'x', res: {} }), false)
  })
})
