// The benchmark generator: seeded determinism, and nginx-json lines in exactly import_logs.py's layout.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { BENCH_FORMATS, generateLines, generateRequests, isoWithOffset, writeLogFile } from '../../../bench/generate.js'
import { isLineIssue } from '../../../src/formats/access-entry.js'
import { FORMATS } from '../../../src/formats/index.js'
import { createParseContext } from '../../../src/formats/format.js'

const BASE = Date.UTC(2025, 10, 25, 12, 0, 0, 500)
const NGINX_KEYS = ['ip', 'host', 'path', 'status', 'referrer', 'user_agent', 'length', 'generation_time_milli', 'date']

/** import_logs.py's nginx_json date handling: first 19 chars as UTC wall time, chars 20+ as ±HHMM, subtracted. */
function peerDateMs (date: string): number {
  const wall = Date.parse(date.slice(0, 19) + 'Z')
  const tz = Number(date.slice(19).replace(':', ''))
  const sign = tz >= 0 ? 1 : -1
  const n = Math.abs(tz)
  return wall - sign * (Math.floor(n / 100) * 3_600_000 + (n % 100) * 60_000)
}

describe('bench generator', () => {
  it('gives the same bytes for the same seed and base time, and different ones for another seed', () => {
    for (const format of BENCH_FORMATS) {
      const a = [...generateLines({ format, mix: 'realistic', lines: 200, seed: 3, baseTimeMs: BASE })]
      const b = [...generateLines({ format, mix: 'realistic', lines: 200, seed: 3, baseTimeMs: BASE })]
      const c = [...generateLines({ format, mix: 'realistic', lines: 200, seed: 4, baseTimeMs: BASE })]
      assert.deepEqual(a, b, format)
      assert.notDeepEqual(a, c, format)
      for (const line of a) assert.doesNotThrow(() => JSON.parse(line), line)
    }
  })

  it('writes nginx-json in the import_logs.py layout, key for key, with dates it accepts', () => {
    const requests = [...generateRequests({ mix: 'realistic', lines: 500, seed: 9, baseTimeMs: BASE })]
    const lines = [...generateLines({ format: 'nginx-json', mix: 'realistic', lines: 500, seed: 9, baseTimeMs: BASE })]
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!
      const record = JSON.parse(line) as Record<string, unknown>
      assert.deepEqual(Object.keys(record), NGINX_KEYS)
      assert.equal(typeof record.status, 'string')
      assert.match(record.status as string, /^[1-5]\d\d$/)
      assert.ok(Number.isInteger(record.length))
      assert.equal(typeof record.generation_time_milli, 'number')
      // $request_time is seconds with three decimals, written bare.
      assert.match(line, /"generation_time_milli":\d+\.\d{3},/)
      assert.match(record.date as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/)
      assert.equal(peerDateMs(record.date as string), Math.floor(requests[i]!.timeMs / 1000) * 1000)
      assert.ok(record.referrer === '-' || (record.referrer as string).startsWith('https://'))
    }
  })

  it('keeps times in the hour before the base time, oldest first', () => {
    const times = [...generateRequests({ mix: 'pages', lines: 1000, baseTimeMs: BASE })].map((r) => r.timeMs)
    assert.equal(times[times.length - 1], BASE)
    assert.ok(times[0]! >= BASE - 3_600_000)
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!)
  })

  it('makes every pages line a 200 GET of a page, and the realistic mix has static files, bots and 3xx/4xx', () => {
    const pages = [...generateRequests({ mix: 'pages', lines: 2000, seed: 2, baseTimeMs: BASE })]
    assert.ok(pages.every((r) => r.status === 200 && r.method === 'GET' && !/\.(css|js|png|jpg|woff2|ico|txt)$/.test(r.uri)))
    const real = [...generateRequests({ mix: 'realistic', lines: 2000, seed: 2, baseTimeMs: BASE })]
    assert.ok(real.some((r) => /\.(css|js|png)$/.test(r.uri)))
    assert.ok(real.some((r) => /bot|curl/i.test(r.userAgent)))
    assert.ok(real.some((r) => r.status >= 300 && r.status < 400))
    assert.ok(real.some((r) => r.status >= 400 && r.status < 500))
  })

  it('writes lines our own nginx-json and pino-http formats read, with the same time', () => {
    const context = createParseContext()
    for (const format of ['nginx-json', 'pino-http'] as const) {
      const requests = [...generateRequests({ mix: 'realistic', lines: 100, seed: 5, baseTimeMs: BASE })]
      const lines = [...generateLines({ format, mix: 'realistic', lines: 100, seed: 5, baseTimeMs: BASE })]
      lines.forEach((line, i) => {
        const entry = FORMATS.get(format)!.parse(JSON.parse(line) as Record<string, unknown>, context)
        assert.ok(!isLineIssue(entry), `${format}: ${line}`)
        const expected = format === 'nginx-json' ? Math.floor(requests[i]!.timeMs / 1000) * 1000 : requests[i]!.timeMs
        assert.equal(entry.timeMs, expected)
      })
    }
  })

  it('writes a file of exactly the generated lines, each ending in a newline, and returns its size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-bench-gen-'))
    try {
      const path = join(dir, 'out.ndjson')
      // Enough lines to cross the 1 MiB write chunk.
      const options = { format: 'caddy' as const, mix: 'pages' as const, lines: 3_000, seed: 11, baseTimeMs: BASE }
      const bytes = await writeLogFile(path, options)
      const text = readFileSync(path, 'utf8')
      assert.equal(Buffer.byteLength(text), bytes)
      assert.equal(text, [...generateLines(options)].join('\n') + '\n')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('formats negative and half-hour offsets as ±HH:MM', () => {
    assert.equal(isoWithOffset(Date.UTC(2024, 2, 10, 9, 0, 0, 999), 60), '2024-03-10T10:00:00+01:00')
    assert.equal(isoWithOffset(Date.UTC(2024, 2, 10, 2, 0, 0), -300), '2024-03-09T21:00:00-05:00')
    assert.equal(isoWithOffset(Date.UTC(2024, 2, 10, 9, 0, 0), 330), '2024-03-10T14:30:00+05:30')
  })
})
