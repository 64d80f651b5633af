// nginx-json: import_logs.py's layout and nginx variable names as keys, \xHH escapes, every time key nginx writes.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createParseContext } from '../../../src/formats/format.js'
import { nginxJson } from '../../../src/formats/nginx-json.js'
import { fixtureLines, parseWith, runCases, checkResult, type Case } from '../../helpers/format-cases.js'

const importLogs = fixtureLines('nginx-json.ndjson')
const variables = fixtureLines('nginx-variables.ndjson')

describe('import_logs.py layout (fixtures/logs/nginx-json.ndjson)', () => {
  runCases(nginxJson, [
    {
      name: 'line 1: every key, status as a string, date with an offset, generation_time_milli in seconds',
      line: importLogs[0]!,
      expected: {
        remoteAddress: '203.0.113.9',
        host: 'www.example.org',
        path: '/products/42',
        query: 'ref=mail',
        status: 200,
        referer: 'https://mail.example.com/',
        userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
        responseTimeMs: 42,
        timeMs: Date.UTC(2025, 10, 25, 8, 0, 1)
      }
    },
    { name: 'line 2: status as a number, "-" referrer, Z time, numeric strings', line: importLogs[1]!, expected: { status: 200, referer: undefined, responseTimeMs: 3, timeMs: Date.UTC(2025, 10, 25, 8, 0, 2) } },
    { name: 'line 3: fractional seconds, "-" generation time, userid and method', line: importLogs[2]!, expected: { timeMs: Date.UTC(2025, 10, 25, 8, 0, 3, 250), responseTimeMs: undefined, userId: 'u-1842', method: 'POST', status: 302 } },
    { name: 'line 5: \\xHH escapes (nginx without escape=json), time without offset is UTC', line: importLogs[4]!, expected: { path: '/search', query: 'q=café', timeMs: Date.UTC(2025, 10, 25, 8, 0, 5) } },
    { name: 'line 6: missing date', line: importLogs[5]!, expected: { issue: 'missing_field:date' } }
  ])
})

describe('nginx variable names (fixtures/logs/nginx-variables.ndjson)', () => {
  runCases(nginxJson, [
    {
      name: 'line 1: time_iso8601, remote_addr, X-Forwarded-For, request_uri, request_time in seconds, scheme',
      line: variables[0]!,
      expected: {
        timeMs: Date.UTC(2025, 10, 25, 8, 0, 1),
        remoteAddress: '10.0.0.2',
        forwardedFor: '203.0.113.9, 10.0.0.1',
        host: 'www.example.org',
        method: 'GET',
        path: '/products/42',
        query: 'ref=mail',
        status: 200,
        referer: 'https://mail.example.com/',
        acceptLanguage: 'en-GB,en;q=0.9',
        responseTimeMs: 42,
        scheme: 'https'
      }
    },
    {
      name: 'line 2: time_local, the request line, server_name, http_referrer, IPv6, remote_user "-"',
      line: variables[1]!,
      expected: { timeMs: Date.UTC(2025, 10, 25, 8, 0, 2), method: 'POST', path: '/login', query: undefined, host: 'www.example.org', referer: 'https://www.example.org/', remoteAddress: '2001:db8::1', userId: undefined, status: 302, responseTimeMs: 120 }
    },
    {
      name: 'line 3: msec, uri + args with \\xHH escapes, escaped quotes, http_host with port, https=on, remote_user',
      line: variables[2]!,
      expected: { timeMs: Date.UTC(2025, 10, 25, 8, 0, 3, 250), path: '/search', query: 'q=café&page=2', userAgent: 'Mozilla/5.0 ("quoted")', host: 'www.example.org:8443', scheme: 'https', userId: 'carol' }
    },
    { name: 'line 4: a TLS handshake sent to the HTTP port has no request target', line: variables[3]!, expected: { issue: 'missing_field:request_uri' } }
  ])
})

/** import_logs.py's measured behaviour (peer-import-logs.md §1) on single lines, and ours. */
describe('import_logs.py probe lines, read with --format nginx-json', () => {
  const line = { ip: '203.0.113.9', host: 'www.example.org', path: '/a?b=1', status: '200', referrer: '-', user_agent: 'UA', length: 10, generation_time_milli: 0.01, date: '2024-03-10T10:00:00+01:00' }
  const at9 = Date.UTC(2024, 2, 10, 9)
  const cases: Case[] = [
    { name: 'date with +01:00 → converted to UTC (peer: OK)', line, expected: { timeMs: at9 } },
    { name: 'date ending in Z → read (peer: counted invalid)', line: { ...line, date: '2024-03-10T09:00:00Z' }, expected: { timeMs: at9 } },
    { name: 'date with fractional seconds → read (peer: counted invalid)', line: { ...line, date: '2024-03-10T10:00:00.123+01:00' }, expected: { timeMs: at9 + 123 } },
    { name: 'date without any offset → UTC (peer: same, silently)', line: { ...line, date: '2024-03-10T09:00:00' }, expected: { timeMs: at9 } },
    { name: 'status as a JSON number → read (peer: crash, TypeError)', line: { ...line, status: 200 }, expected: { status: 200 } },
    { name: 'generation_time_milli missing → no pf_srv (peer: crash, KeyError)', line: { ...line, generation_time_milli: undefined }, expected: { responseTimeMs: undefined, status: 200 } },
    { name: 'date missing → that line rejected as missing_field:date (peer: crash, KeyError)', line: { ...line, date: undefined }, expected: { issue: 'missing_field:date' } },
    { name: 'length and generation_time_milli "-" → tolerated (peer: same)', line: { ...line, length: '-', generation_time_milli: '-' }, expected: { responseTimeMs: undefined } },
    { name: 'http_x_forwarded_host / _proto (first of a list) win over host / scheme', line: { ...line, scheme: 'http', http_x_forwarded_host: 'shop.example.org, lb.internal', http_x_forwarded_proto: 'https' }, expected: { host: 'shop.example.org', scheme: 'https' } },
    { name: 'a pino-http line → rejected as missing_field:request_uri (peer: crash, BaseFormatException)', line: { level: 30, time: 1, req: { url: '/' }, res: { statusCode: 200 }, msg: 'request completed' }, expected: { issue: 'missing_field:request_uri' } }
  ]
  runCases(nginxJson, cases)

  test('date without an offset honours --timezone', () => {
    checkResult(parseWith(nginxJson, { ...line, date: '2024-03-10T10:00:00' }, createParseContext({ timezone: 'Europe/Paris' })), { timeMs: at9 })
  })
  test('a date that is not a time is invalid_time', () => {
    checkResult(parseWith(nginxJson, { ...line, date: '10/Mar/2024' }), { issue: 'invalid_time' })
    checkResult(parseWith(nginxJson, { ...line, date: 1710061200 }), { issue: 'invalid_time' })
  })
  test('a status that is not a number is invalid_field:status', () => {
    checkResult(parseWith(nginxJson, { ...line, status: 'OK' }), { issue: 'invalid_field:status' })
  })
})

describe('nginxJson.sniff', () => {
  test('fits both layouts, with or without referrer', () => {
    for (const line of [...importLogs, ...variables]) assert.equal(nginxJson.sniff(JSON.parse(line.replace(/\\x/g, '\\u00'))), true, line)
    assert.equal(nginxJson.sniff({ path: '/', status: 200, date: '2024-03-10T09:00:00Z' }), true)
  })
  test('does not fit other formats', () => {
    assert.equal(nginxJson.sniff({ level: 30, time: 1, req: {}, res: {}, msg: '' }), false)
    assert.equal(nginxJson.sniff({ ts: 1, request: { uri: '/' }, status: 200 }), false)
    assert.equal(nginxJson.sniff({ RequestPath: '/', DownstreamStatus: 200, time: 'x' }), false)
    assert.equal(nginxJson.sniff({ path: '/', status: 200 }), false)
  })
})
