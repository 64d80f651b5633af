// Spawns the built CLI with `read --dry-run -`: stdin detection loses no line and never hangs (import_logs.py does both).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { fixture } from '../helpers/run-forward.js'

const BIN = new URL('../../bin/matomo-forward.js', import.meta.url).pathname
const DIST = new URL('../../dist/cli/main.js', import.meta.url).pathname
/** A run of a few lines takes well under a second; this only turns a hang into a failure. */
const HANG_MS = Number(process.env.MF_TEST_HANG_MS ?? 20_000)

interface Outcome { code: number | null, signal: string | null, stdout: string, stderr: string, timedOut: boolean }

async function runCli (args: string[], stdin: Buffer): Promise<Outcome> {
  assert.ok(existsSync(DIST), 'dist/ is missing: run `npm run build` before the CLI tests')
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, HANG_MS)
  child.stdin.end(stdin)
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])))
  clearTimeout(timer)
  return { code, signal, stdout, stderr, timedOut }
}

function summaryCount (stderr: string, label: string): number {
  const m = new RegExp(`^  ${label}\\s+(\\d+)`, 'm').exec(stderr)
  assert.ok(m !== null, `no "${label}" in the summary:\n${stderr}`)
  return Number(m[1])
}

describe('read --dry-run - (stdin)', () => {
  test('3 lines without --format: all processed, exits, does not hang', async () => {
    const lines = readFileSync(fixture('pino-http.ndjson'), 'utf8').split('\n').slice(0, 3).join('\n') + '\n'
    const out = await runCli(['read', '--dry-run', '--idsite', '1', '-'], Buffer.from(lines))
    assert.equal(out.timedOut, false, 'the run hung')
    assert.equal(out.code, 0, out.stderr)
    assert.equal(out.stdout.trim().split('\n').length, 2, 'two request lines, two hits')
    assert.equal(summaryCount(out.stderr, 'lines read'), 3)
    assert.match(out.stderr, /not_an_access_entry: 1/)
  })

  test('100 lines without --format: no line lost to detection', async () => {
    const lines: string[] = []
    for (let i = 0; i < 100; i++) {
      lines.push(JSON.stringify({ ip: '203.0.113.9', host: 'www.example.org', path: `/p/${i}`, status: 200, user_agent: 'UA', date: `2024-03-10T10:00:${String(i % 60).padStart(2, '0')}Z` }))
    }
    const out = await runCli(['read', '--dry-run', '--idsite', '1', '-'], Buffer.from(lines.join('\n') + '\n'))
    assert.equal(out.code, 0, out.stderr)
    const urls = out.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { url: string }).url)
    assert.deepEqual(urls, lines.map((_l, i) => `https://www.example.org/p/${i}`))
  })

  test('a pino-http log is read as pino-http, never as Traefik', async () => {
    const out = await runCli(['read', '--dry-run', '--idsite', '1', '-'], readFileSync(fixture('pino-http.ndjson')))
    assert.equal(out.code, 0, out.stderr)
    assert.match(out.stderr, /detected format pino-http/)
    assert.equal(summaryCount(out.stderr, 'hits'), 6)
  })

  test('an unknown layout stops with exit 2, the keys seen and the --format to use', async () => {
    const out = await runCli(['read', '--dry-run', '--idsite', '1', '-'], Buffer.from('{"when":1,"what":"/x"}\n{"when":2,"what":"/y"}\n{"when":3,"what":"/z"}\n'))
    assert.equal(out.timedOut, false)
    assert.equal(out.code, 2)
    assert.match(out.stderr, /MF_ERR_FORMAT_UNDETECTED: cannot detect the log format of -: saw 3 JSON lines with keys \(when, what\)/)
    assert.match(out.stderr, /--format pino-http\|nginx-json\|caddy\|traefik\|fields/)
    assert.equal(out.stdout, '')
  })

  test('a final line without a newline is read', async () => {
    const line = readFileSync(fixture('pino-http.ndjson'), 'utf8').split('\n')[1]!
    const out = await runCli(['read', '--dry-run', '--idsite', '1', '--format', 'pino-http', '-'], Buffer.from(line))
    assert.equal(out.code, 0, out.stderr)
    assert.equal(summaryCount(out.stderr, 'hits'), 1)
  })
})
