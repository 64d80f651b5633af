// Every fixture through forward() with the dry-run sink: exact hits, counts by reason that add up, reject records.
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { describe, test } from 'node:test'
import { isForwardError } from '../../src/errors.js'
import { assertAddsUp, byReason, fixture, runForward } from '../helpers/run-forward.js'
import { tmpDir } from '../helpers/tmp.js'

const TOKEN = { 'access-token': 'test-token-not-secret' }

describe('fixtures through forward()', () => {
  test('pino-http.ndjson', async () => {
    const r = await runForward([fixture('pino-http.ndjson')], TOKEN)
    assertAddsUp(r)
    assert.equal(r.summary.hits, 6)
    assert.deepEqual(byReason(r.summary.filtered), { not_an_access_entry: 1 })
    assert.deepEqual(byReason(r.summary.rejected), { invalid_json: 1, invalid_time: 1 })
    const first = r.hits[0]!
    assert.equal(first.url, 'https://api.example.org/api/users?page=2')
    assert.equal(first.cdt, 1764064801)
    assert.equal(first.pf_srv, 13)
    assert.equal(first.cip, '203.0.113.9')
    assert.equal(first.token_auth, undefined)
    assert.ok(!JSON.stringify(r).includes('test-token-not-secret'), 'the token appears nowhere')
  })

  test('nginx-json.ndjson and nginx-variables.ndjson', async () => {
    const r = await runForward([fixture('nginx-json.ndjson'), fixture('nginx-variables.ndjson')], { ...TOKEN, 'trusted-proxy': ['10.0.0.0/8'] })
    assertAddsUp(r)
    assert.equal(r.summary.hits, 8)
    assert.deepEqual(byReason(r.summary.rejected), { 'missing_field:date': 1, 'missing_field:request_uri': 1 })
    const byUrl = new Map(r.hits.map((h) => [h.url, h]))
    assert.equal(byUrl.get('https://www.example.org/search?q=café')?.cdt, Date.UTC(2025, 10, 25, 8, 0, 5) / 1000)
    // nginx-variables line 1: remote 10.0.0.2 is trusted, so X-Forwarded-For is walked: 10.0.0.1 trusted, 203.0.113.9 wins.
    const products = r.hits.filter((h) => h.url === 'https://www.example.org/products/42?ref=mail')
    assert.deepEqual(products.map((h) => h.cip), ['203.0.113.9', '203.0.113.9'])
    assert.equal(byUrl.get('https://www.example.org/login')?.cip, '2001:db8::1')
    assert.equal(byUrl.get('https://www.example.org:8443/search?q=café&page=2')?.uid, 'carol')
  })

  test('caddy.ndjson', async () => {
    const r = await runForward([fixture('caddy.ndjson')], TOKEN)
    assertAddsUp(r)
    assert.equal(r.summary.hits, 4)
    assert.deepEqual(byReason(r.summary.filtered), { not_an_access_entry: 1 })
    assert.deepEqual(r.hits.map((h) => [h.cdt, h.pf_srv, h.cip]), [
      [1764064800, 1, '203.0.113.9'],
      [1764064801, 42, '198.51.100.7'],
      [1764064802, 1500, '2001:db8::5'],
      [1764064803, 0, '192.0.2.1']
    ])
  })

  test('traefik.ndjson', async () => {
    const r = await runForward([fixture('traefik.ndjson')], TOKEN)
    assertAddsUp(r)
    assert.equal(r.summary.hits, 3)
    assert.deepEqual(r.hits.map((h) => [h.url, h.cdt, h.pf_srv, h.cip]), [
      ['https://www.example.org/blog/2025/11/hello?utm_source=feed', 1764064801, 13, '203.0.113.9'],
      ['https://www.example.org/missing', 1764064802, 1, '2001:db8::7'],
      ['https://www.example.org/', 1764064803, 1, '192.0.2.10']
    ])
  })

  test('fields-custom.ndjson with the fields map of fixtures/config/fields.yaml', async () => {
    const r = await runForward([fixture('fields-custom.ndjson')], { ...TOKEN, config: fixture('../config/fields.yaml'), 'crash-reports': true })
    assertAddsUp(r)
    assert.equal(r.summary.hits, 2)
    assert.deepEqual(byReason(r.summary.rejected), { 'missing_field:http.path': 1 })
    assert.deepEqual(r.hits.map((h) => [h.url, h.cdt, h.pf_srv, h.cip, h.urlref]), [
      ['https://shop.example.org/checkout/step-1?cart=9', 1764064801, 88, '203.0.113.20', 'https://shop.example.org/cart'],
      ['https://shop.example.org/checkout/pay', 1764064802, 1200, '2001:db8::20', undefined]
    ])
    assert.equal(r.hits[1]?.cra, 'UpstreamError: payment gateway timeout')
  })

  for (const [name, filtered] of [
    ['pino-http-docker.log', { not_an_access_entry: 1, partial_line_joined: 1 }],
    ['pino-http-cri.log', { empty_line: 1, not_an_access_entry: 1, partial_line_joined: 2 }]
  ] as const) {
    test(`${name}: unwrapped, pieces joined, the stderr line rejected`, async () => {
      const r = await runForward([fixture(name)], TOKEN)
      assertAddsUp(r)
      assert.deepEqual(r.hits.map((h) => h.url), ['https://api.example.org/api/users?page=2', 'https://api.example.org/api/upload', 'https://api.example.org/api/reports/42'])
      assert.equal(r.hits[1]?.urlref, 'https://app.example.org/upload')
      assert.equal(r.hits[0]?.cip, '203.0.113.9')
      assert.deepEqual(byReason(r.summary.filtered), filtered)
      assert.deepEqual(byReason(r.summary.rejected), { invalid_json: 2 })
      assert.deepEqual(r.rejects.map((x) => x.line), [1, 5])
    })
  }
})

describe('a line the mapping cannot handle', () => {
  test('tracking data nested thousands of levels deep is rejected as unmappable; the file goes on', async (t) => {
    const line = (path: string, matomo?: unknown): string => JSON.stringify({ level: 30, time: Date.now() - 60_000, req: { method: 'GET', url: path, headers: { host: 'h.example' } }, res: { statusCode: 200 }, responseTime: 2, ...(matomo === undefined ? {} : { matomo }) })
    // Built as text: JSON.stringify of such an object would overflow the stack here too.
    const deep = line('/deep', { cvar: { x: 0 } }).replace('{"x":0}', '{"x":'.repeat(9000) + '0' + '}'.repeat(9000))
    const file = join(tmpDir(t), 'deep.log')
    writeFileSync(file, [line('/before'), deep, line('/after')].join('\n') + '\n')
    const r = await runForward([file], { format: 'pino-http' })
    assertAddsUp(r)
    assert.deepEqual(r.hits.map((h) => h.action_name), ['/before', '/after'])
    assert.deepEqual(byReason(r.summary.rejected), { unmappable: 1 })
    assert.equal(r.rejects[0]?.line, 2)
    assert.match(String(r.rejects[0]?.message), /nested too deeply/)
  })
})

describe('bad lines never stop a run (fixtures/logs/bad-lines.ndjson)', () => {
  test('each is counted by reason, logged with file, line and offset, and written to the reject file', async () => {
    const path = fixture('bad-lines.ndjson')
    const bytes = readFileSync(path)
    const r = await runForward([path], { 'max-line-bytes': 256 })
    assertAddsUp(r)
    assert.equal(r.summary.linesRead, 17)
    assert.equal(r.summary.bytesRead, bytes.length)
    // BOM on line 1, CRLF on line 8, invalid UTF-8 on line 9, no newline after line 17.
    assert.deepEqual(r.hits.map((h) => h.action_name), ['/p/1', '/p/8', '/p/9', '/p/17'])
    assert.equal(r.hits[2]?.ua, 'Mozilla \uFFFD\uFFFD bad')
    assert.deepEqual(byReason(r.summary.filtered), { empty_line: 2 })
    assert.deepEqual(byReason(r.summary.rejected), {
      'invalid_field:res.statusCode': 1,
      invalid_json: 2,
      invalid_time: 1,
      line_too_long: 1,
      'missing_field:req': 1,
      'missing_field:req.url': 1,
      not_an_object: 4
    })
    assert.deepEqual(r.rejects.map((x) => [x.line, x.reason]), [
      [2, 'invalid_json'], [3, 'not_an_object'], [4, 'not_an_object'], [5, 'not_an_object'], [6, 'not_an_object'], [7, 'invalid_json'],
      [12, 'invalid_time'], [13, 'invalid_field:res.statusCode'], [14, 'missing_field:req.url'], [15, 'line_too_long'], [16, 'missing_field:req']
    ])
    for (const reject of r.rejects) {
      assert.equal(reject.source, path)
      assert.equal(typeof reject.message, 'string')
      // The offset points at the line's first byte, and raw is that line (or its head when too long).
      const offset = reject.offset as number
      assert.ok(offset === 0 || bytes[offset - 1] === 0x0a, `offset ${offset} starts a line`)
      const raw = reject.raw as string
      assert.equal(bytes.subarray(offset, offset + Buffer.byteLength(raw)).toString(), raw)
    }
    // The too-long line's head (up to 1 KiB) is kept: here the whole 308-byte line.
    assert.equal((r.rejects.find((x) => x.reason === 'line_too_long')?.raw as string).length, 308)
    const warnings = r.logs.filter((l) => l.level === 40)
    assert.equal(warnings.length, r.summary.rejectedTotal)
    assert.deepEqual(Object.keys(warnings[0]!).filter((k) => ['source', 'line', 'offset', 'reason'].includes(k)).sort(), ['line', 'offset', 'reason', 'source'])
  })

  test('warnings are rate-limited per reason, counts are not', async () => {
    const lines = Array.from({ length: 40 }, () => 'garbage').join('\n')
    const r = await runForward(['-'], {}, Readable.from([Buffer.from(lines)]))
    assertAddsUp(r)
    assert.equal(r.summary.rejected.get('invalid_json'), 40)
    const warnings = r.logs.filter((l) => l.level === 40)
    assert.ok(warnings.length < 40 && warnings.length >= 10, `${warnings.length} warnings`)
  })
})

describe('detection while reading', () => {
  test('stdin delivered one byte at a time: detection holds lines and loses none', async () => {
    const text = readFileSync(fixture('pino-http.ndjson'))
    const stdin = new PassThrough()
    const done = runForward(['-'], {}, stdin)
    for (const byte of text) stdin.write(Buffer.from([byte]))
    stdin.end()
    const r = await done
    assertAddsUp(r)
    assert.equal(r.summary.linesRead, 9)
    assert.equal(r.summary.hits, 6)
  })

  test('three lines on stdin, none recognisable: the run ends with a message naming the keys and --format', async () => {
    const stdin = Readable.from([Buffer.from('{"a":1}\n{"a":2}\n{"b":3}\n')])
    await assert.rejects(runForward(['-'], {}, stdin), (err: unknown) => {
      assert.ok(isForwardError(err))
      assert.equal(err.code, 'MF_ERR_FORMAT_UNDETECTED')
      assert.match(err.message, /saw 3 JSON lines with keys \(a\) and \(b\)/)
      assert.match(err.message, /--format pino-http\|nginx-json\|caddy\|traefik\|fields/)
      return true
    })
  })

  test('only bad lines: each rejected for its own reason, no format needed', async () => {
    const r = await runForward(['-'], {}, Readable.from([Buffer.from('x\n[1]\n')]))
    assertAddsUp(r)
    assert.deepEqual(byReason(r.summary.rejected), { invalid_json: 1, not_an_object: 1 })
  })

  test('each source is sniffed on its own', async () => {
    const r = await runForward([fixture('caddy.ndjson'), fixture('traefik.ndjson'), fixture('pino-http.ndjson')])
    assertAddsUp(r)
    assert.equal(r.summary.hits, 4 + 3 + 6)
    const detected = r.logs.filter((l) => typeof l.format === 'string').map((l) => l.format)
    assert.deepEqual(detected, ['caddy', 'traefik', 'pino-http'])
  })

  test('an empty input reads nothing and detects nothing', async () => {
    const r = await runForward(['-'], {}, Readable.from([]))
    assertAddsUp(r)
    assert.equal(r.summary.linesRead, 0)
  })
})
