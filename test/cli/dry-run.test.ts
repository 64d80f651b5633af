// Spawns the built bin/matomo-forward.js: files, stdin, exit codes and output streams, as users run it.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpDir } from '../helpers/tmp.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const BIN = join(ROOT, 'bin', 'matomo-forward.js')

interface Run { code: number | null, stdout: string, stderr: string }

function run (args: string[], options: { stdin?: string, env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('close', () => clearTimeout(timer))
    child.stdin.end(options.stdin ?? '')
  })
}

function hits (stdout: string): Array<Record<string, unknown>> {
  return stdout.trim() === '' ? [] : stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
}

describe('bin/matomo-forward.js (built dist)', () => {
  test('README quick start: dry run of the shipped pino-http sample', async () => {
    const r = await run(['read', '--dry-run', '--idsite', '1', '--exclude-path', '/health', 'fixtures/logs/pino-http.ndjson'])
    assert.equal(r.code, 0, r.stderr)
    const out = hits(r.stdout)
    assert.deepEqual(out.map((h) => h.action_name), ['/api/users', '/api/orders', '/api/reports/42', '/api/users', '/api/old/export'])
    assert.equal(out[0]?.url, 'https://api.example.org/api/users?page=2')
    assert.equal(out[0]?.cdt, 1764064801)
    assert.match(r.stderr, /lines read +9/)
    assert.match(r.stderr, /hits +5/)
    assert.match(r.stderr, /filtered +2 +\(excluded_path: 1, not_an_access_entry: 1\)/)
    assert.match(r.stderr, /rejected +2 +\(invalid_json: 1, invalid_time: 1\)/)
    assert.match(r.stderr, /line 8 of \S*fixtures\/logs\/pino-http.ndjson \(offset \d+\) rejected: invalid_json/)
  })

  test('--summary-json /dev/stdout with stdout appended to a log (cron >> run.log): the log keeps what it held, the outcome comes last', (t) => {
    const log = join(tmpDir(t), 'run.log')
    writeFileSync(log, 'earlier line\n')
    const fd = openSync(log, 'a')
    try {
      const r = spawnSync(process.execPath, [BIN, 'read', '--dry-run', '--idsite', '1', '--summary-json', '/dev/stdout', 'fixtures/logs/pino-http.ndjson'], { cwd: ROOT, stdio: ['ignore', fd, 'pipe'], timeout: 20_000 })
      assert.equal(r.status, 0, String(r.stderr))
    } finally {
      closeSync(fd)
    }
    const text = readFileSync(log, 'utf8')
    assert.ok(text.startsWith('earlier line\n'), text.slice(0, 200))
    const outcome = JSON.parse(text.slice(text.lastIndexOf('\n{\n') + 1)) as { exit_code: number | null }
    assert.equal(outcome.exit_code, 0, 'one outcome, at the end (no "not ended" document first)')
    assert.equal(text.split('"exit_code"').length - 1, 1)
  })

  test('--status-dimension and --method-dimension send status and method as custom dimensions too', async () => {
    const r = await run(['read', join(ROOT, 'fixtures/logs/nginx-json.ndjson'), '--dry-run', '--idsite', '2', '--format', 'nginx-json', '--status-dimension', '4', '--method-dimension', '5'])
    assert.equal(r.code, 0, r.stderr)
    const out = hits(r.stdout)
    assert.equal(out.length, 5)
    for (const h of out) {
      const cvar = JSON.parse(String(h.cvar)) as { http_status_code: number, http_method: string }
      assert.equal(h.dimension4, String(cvar.http_status_code))
      assert.equal(h.dimension5, cvar.http_method)
    }
  })

  test('reads standard input with -, and the nginx JSON layout of import_logs.py', async () => {
    const { readFileSync } = await import('node:fs')
    const input = readFileSync(join(ROOT, 'fixtures/logs/nginx-json.ndjson'), 'utf8')
    const r = await run(['read', '-', '--dry-run', '--idsite', '2', '--format', 'nginx-json'], { stdin: input, env: { MATOMO_FORWARD_ACCESS_TOKEN: 'SECRETTOKEN' } })
    assert.equal(r.code, 0, r.stderr)
    const out = hits(r.stdout)
    assert.equal(out.length, 5)
    assert.deepEqual(out.map((h) => h.cip), ['203.0.113.9', '198.51.100.7', '198.51.100.7', '192.0.2.1', '192.0.2.80'])
    assert.ok(out.every((h) => !('token_auth' in h)), 'the token goes once per bulk body, not into each hit')
    assert.equal(out[0]?.cdt, Date.parse('2025-11-25T08:00:01Z') / 1000)
    assert.equal(out[0]?.pf_srv, 42)
    assert.equal(out[4]?.url, 'https://www.example.org/search?q=café')
    assert.match(r.stderr, /missing_field:date/)
    assert.ok(!r.stdout.includes('SECRETTOKEN') && !r.stderr.includes('SECRETTOKEN'))
  })

  test('/dev/stdin given by name is read as a stream (a pipe has no size and cannot be read by position)', async () => {
    const { readFileSync } = await import('node:fs')
    const input = readFileSync(join(ROOT, 'fixtures/logs/nginx-json.ndjson'), 'utf8')
    const r = await run(['read', '/dev/stdin', '--dry-run', '--idsite', '2', '--format', 'nginx-json'], { stdin: input })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(hits(r.stdout).length, 5)
    assert.match(r.stderr, /lines read +6/)
  })

  test('a configuration problem exits 2 before reading, listing every problem', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'c.yaml'), 'idsite: zero\nexcludePattern: ["(x"]\n')
    const r = await run(['read', '-', '--config', join(dir, 'c.yaml')], { stdin: '{}\n' })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /MF_ERR_CONFIG_INVALID/)
    assert.match(r.stderr, /idsite/)
    assert.match(r.stderr, /\(x/)
    assert.match(r.stderr, /--matomo-url is required/)
    assert.equal(r.stdout, '')
  })

  test('--version', async () => {
    const r = await run(['--version'])
    assert.equal(r.code, 0)
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/)
  })

  test('standard output closed early (`| head -1`): MF_ERR_OUTPUT_WRITE and exit 1, never an unhandled error', async (t) => {
    const dir = tmpDir(t)
    const file = join(dir, 'big.ndjson')
    const line = JSON.stringify({ level: 30, time: Date.now() - 60_000, req: { method: 'GET', url: '/a', headers: { host: 'h.example.org', 'user-agent': 'ua' } }, res: { statusCode: 200 }, msg: 'request completed' })
    writeFileSync(file, (line + '\n').repeat(20_000))
    const r = await new Promise<Run>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'read', '--dry-run', '--idsite', '1', file], { cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      // Like head -1: read the first line, then close the pipe.
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString()
        if (stdout.includes('\n')) child.stdout.destroy()
      })
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
      child.on('error', reject)
      child.on('close', (code) => { resolve({ code, stdout, stderr }) })
    })
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /MF_ERR_OUTPUT_WRITE: cannot write standard output: EPIPE/)
    assert.doesNotMatch(r.stderr, /Unhandled|\n\s+at /, 'no stack trace')
    assert.match(r.stderr, /matomo-forward summary/)
  })
})

