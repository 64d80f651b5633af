// Spawn tests of bin/matomo-forward.js (built dist/) against the fake Matomo: exit codes, summary, check command.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { before, describe, test, type TestContext } from 'node:test'
import { startFakeMatomo, SUPER_TOKEN, type FakeMatomo, type FakeMatomoOptions } from '../helpers/fake-matomo.js'
import { BIN, ensureBuilt } from '../helpers/built-cli.js'
import { tmpDir } from '../helpers/tmp.js'


before(ensureBuilt)

interface Result { code: number | null, stdout: string, stderr: string }

async function cli (args: string[], env: Record<string, string> = {}): Promise<Result> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += String(c) })
  child.stderr.on('data', (c: Buffer) => { stderr += String(c) })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { code, stdout, stderr }
}

function logLines (count: number, ageMs = 60_000): string {
  let text = ''
  for (let n = 1; n <= count; n++) {
    text += `{"level":30,"time":${Date.now() - ageMs},"req":{"method":"GET","url":"/p/${n}","headers":{"host":"www.example.org","user-agent":"agent-${n % 3}"},"remoteAddress":"198.51.100.${n % 3}"},"res":{"statusCode":200},"responseTime":2}\n`
  }
  return text
}

async function fixture (t: TestContext, options: FakeMatomoOptions = {}, lines = logLines(5)): Promise<{ matomo: FakeMatomo, dir: string, file: string, base: string[] }> {
  const matomo = await startFakeMatomo(options)
  t.after(async () => { await matomo.close() })
  const dir = tmpDir(t)
  const file = join(dir, 'access.log')
  writeFileSync(file, lines)
  return { matomo, dir, file, base: ['--matomo-url', matomo.url, '--idsite', '1', '--state-dir', join(dir, 'state'), '--log-level', 'warn'] }
}

const TOKEN_ENV = { MATOMO_FORWARD_ACCESS_TOKEN: SUPER_TOKEN }

describe('matomo-forward read (spawned)', () => {
  test('delivers every hit, prints the summary, writes --summary-json, exits 0, never shows the token', async (t) => {
    const { matomo, dir, file, base } = await fixture(t)
    const summaryPath = join(dir, 'summary.json')
    const r = await cli(['read', ...base, '--summary-json', summaryPath, file], TOKEN_ENV)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(matomo.hits.length, 5)
    assert.match(r.stderr, /tracked\s+5/)
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as Record<string, number>
    assert.equal(summary.hits_tracked_total, 5)
    assert.equal(summary.hits_sent_total, 5)
    assert.equal(summary.exit_code, 0)
    assert.equal(summary.error, null)
    assert.ok(!r.stderr.includes(SUPER_TOKEN) && !r.stdout.includes(SUPER_TOKEN))
    // The token goes once per bulk body and authenticates every item (their cip is accepted); no item repeats it.
    const bodies = matomo.requests.filter((req) => req.path === '/matomo.php').map((req) => JSON.parse(req.body) as { token_auth?: string, requests: Array<Record<string, unknown>> }).filter((body) => body.requests.length > 0)
    assert.ok(bodies.length > 0)
    for (const body of bodies) {
      assert.equal(body.token_auth, SUPER_TOKEN)
      assert.ok(body.requests.every((item) => !('token_auth' in item) && typeof item.cip === 'string'))
    }
  })

  test('exits 3 when Matomo counted hits invalid', async (t) => {
    const { matomo, file, base } = await fixture(t)
    matomo.enqueue({ kind: 'default' }, { kind: 'invalid_indices', indices: [0] })
    const r = await cli(['read', ...base, file], TOKEN_ENV)
    assert.equal(r.code, 3, r.stderr)
    assert.match(r.stderr, /invalid\s+1/)
  })

  test('exits 1 with a clear message when Matomo answers a GIF (--no-preflight), with the summary', async (t) => {
    const { matomo, file, base } = await fixture(t)
    matomo.enqueue({ kind: 'gif' })
    const summaryPath = join(dirname(file), 'summary.json')
    const r = await cli(['read', ...base, '--no-preflight', '--summary-json', summaryPath, file], TOKEN_ENV)
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /MF_ERR_SINK_CONFIG: .*QueuedTracking/)
    assert.match(r.stderr, /matomo-forward summary/)
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as { exit_code: number, error: { code: string, message: string } | null }
    assert.equal(summary.exit_code, 1)
    assert.equal(summary.error?.code, 'MF_ERR_SINK_CONFIG')
    assert.match(summary.error?.message ?? '', /QueuedTracking/)
  })

  test('exits 1 before sending anything when the preflight fails; --summary-json says so (a previous success does not stand)', async (t) => {
    const { matomo, file, base } = await fixture(t)
    const summaryPath = join(dirname(file), 'summary.json')
    writeFileSync(summaryPath, JSON.stringify({ exit_code: 0, error: null, hits_sent_total: 5 }))
    const r = await cli(['read', ...base.map((a) => a === '1' ? '999' : a), '--summary-json', summaryPath, file], TOKEN_ENV)
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /MF_ERR_SINK_PREFLIGHT: .*--idsite/s)
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as { exit_code: number, error: { code: string } | null, hits_sent_total: number }
    assert.deepEqual([summary.exit_code, summary.error?.code, summary.hits_sent_total], [1, 'MF_ERR_SINK_PREFLIGHT', 0])
    assert.equal(matomo.hits.length, 0)
    assert.ok(matomo.requests.every((req) => req.path !== '/matomo.php' || (JSON.parse(req.body) as { requests: unknown[] }).requests.length === 0))
  })

  test('exits 2 when the input starts with hits older than 24 h and there is no token', async (t) => {
    const { matomo, file, base } = await fixture(t, {}, logLines(3, 3 * 86_400_000))
    const r = await cli(['read', ...base, file])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /MF_ERR_CONFIG_TOKEN_REQUIRED: line 1 of/)
    assert.equal(matomo.hits.length, 0)
  })
})

describe('matomo-forward check (spawned)', () => {
  test('prints each check and exits 0 when all pass; leaves a --summary-json (shared with read in a config) alone', async (t) => {
    const { matomo, base, file } = await fixture(t)
    const summaryPath = join(dirname(file), 'summary.json')
    writeFileSync(summaryPath, '{"exit_code":3,"hits_sent_total":1234}')
    const r = await cli(['check', ...base, '--summary-json', summaryPath], TOKEN_ENV)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(readFileSync(summaryPath, 'utf8'), '{"exit_code":3,"hits_sent_total":1234}')
    assert.match(r.stdout, /^ok +endpoint: /m)
    assert.match(r.stdout, /^ok +token: .*super user/m)
    assert.match(r.stdout, /^ok +site: /m)
    assert.equal(matomo.hits.length, 0)
  })

  test('an IP blocked by Matomo\'s brute-force protection: check and read say so and how to unblock; nothing retried', async (t) => {
    const { matomo, file, base } = await fixture(t, { bruteForceLimit: 1 })
    await fetch(`${matomo.origin}/index.php?module=API&format=json&method=API.getMatomoVersion`, { method: 'POST', body: new URLSearchParams({ token_auth: 'e'.repeat(32) }) })
    const check = await cli(['check', ...base], TOKEN_ENV)
    assert.equal(check.code, 1)
    assert.match(check.stdout, /^FAIL {2}token: .*Too many failed logins.*matomo_brute_force_log/m)
    const apiCalls = matomo.requests.length
    const read = await cli(['read', ...base, file], TOKEN_ENV)
    assert.equal(read.code, 1, read.stderr)
    assert.match(read.stderr, /MF_ERR_SINK_PREFLIGHT: [^]*Too many failed logins/)
    assert.equal(matomo.requests.length - apiCalls, 2, 'one empty bulk request and one API call, no retry')
    assert.equal(matomo.hits.length, 0)
  })

  test('a bad token with --no-preflight: Matomo counts every hit with cip invalid; the run stops with MF_ERR_SINK_AUTH, nothing acknowledged', async (t) => {
    const { matomo, file, base } = await fixture(t)
    const r = await cli(['read', ...base, '--no-preflight', file], { MATOMO_FORWARD_ACCESS_TOKEN: '9'.repeat(32) })
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /MF_ERR_SINK_AUTH/)
    assert.equal(matomo.hits.length, 0)
    const again = await cli(['read', ...base, '--no-preflight', file], TOKEN_ENV)
    assert.equal(again.code, 0, again.stderr)
    assert.equal(matomo.hits.length, 5, 'the lines were not checkpointed: the next run with a good token sends them')
  })

  test('exits 1 and says what to fix when the token is not accepted', async (t) => {
    const { base } = await fixture(t)
    const r = await cli(['check', ...base], { MATOMO_FORWARD_ACCESS_TOKEN: '9'.repeat(32) })
    assert.equal(r.code, 1)
    assert.match(r.stdout, /^FAIL {2}token: .*expired/m)
    assert.match(r.stderr, /^MF_ERR_SINK_PREFLIGHT: preflight check failed:\n {2}- token: /m, 'the coded error on stderr, as for every failure')
    assert.ok(!r.stdout.includes('9'.repeat(32)) && !r.stderr.includes('9'.repeat(32)))
  })
})
