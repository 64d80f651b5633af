// The restart guarantee through the real CLI: bin/matomo-forward.js (built dist/) as a child process against the fake Matomo.
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { appendFileSync, copyFileSync, existsSync, readdirSync, readFileSync, renameSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, test, type TestContext } from 'node:test'
import { startFakeMatomo, SUPER_TOKEN, type FakeMatomo, type FakeMatomoOptions } from '../helpers/fake-matomo.js'
import { accessLines } from '../helpers/log-lines.js'
import { BIN, ensureBuilt } from '../helpers/built-cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait-for.js'

const TOKEN_ENV = { MATOMO_FORWARD_ACCESS_TOKEN: SUPER_TOKEN }

before(ensureBuilt)

interface Run {
  child: ChildProcess
  /** Resolves with the exit code (null when killed by a signal) once stdio is closed. */
  done: Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string, stdout: string }>
  stderr: () => string
}

function start (args: string[], env: Record<string, string> = TOKEN_ENV): Run {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => { stdout += String(c) })
  child.stderr?.on('data', (c: Buffer) => { stderr += String(c) })
  const done = new Promise<{ code: number | null, signal: NodeJS.Signals | null, stderr: string, stdout: string }>((resolve) => {
    child.on('close', (code, signal) => { resolve({ code, signal, stderr, stdout }) })
  })
  return { child, done, stderr: () => stderr }
}

/** A named pipe at `path`, or undefined (the test skipped) where mkfifo is not available. */
function makeFifo (t: TestContext, path: string): string | undefined {
  if (spawnSync('mkfifo', [path]).status === 0) return path
  t.skip('mkfifo is not available')
  return undefined
}

/** SIGTERM: the CLI must exit by itself (not be killed after 10 s), with exit 1 and the pipe named as cut. */
async function stopsOnItsOwnWithStreamCut (run: Run, name: string): Promise<void> {
  run.child.kill('SIGTERM')
  const timer = setTimeout(() => { run.child.kill('SIGKILL') }, 10_000)
  const r = await run.done
  clearTimeout(timer)
  assert.equal(r.signal, null, 'exited by itself, not killed')
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, new RegExp(`stopped +\\S*${name} before its end`))
}

async function cli (args: string[], env?: Record<string, string>): Promise<{ code: number | null, stderr: string, stdout: string }> {
  return await start(args, env).done
}

/** The id each stored hit was written with (accessLine puts it in the path). */
function storedIds (matomo: FakeMatomo): string[] {
  return matomo.hits.map((hit) => {
    const match = /\/l\/([^?#]+)/.exec(String(hit.params.url))
    if (match === null) throw new Error(`hit without an id: ${String(hit.params.url)}`)
    return match[1] as string
  })
}

/** Asserts ids from..to-1 each arrived; returns how many arrived more than once. */
function assertAllArrived (matomo: FakeMatomo, from: number, to: number, prefix = ''): number {
  const ids = storedIds(matomo)
  const seen = new Set(ids)
  const missing: string[] = []
  for (let i = from; i < to; i++) if (!seen.has(prefix + String(i))) missing.push(prefix + String(i))
  assert.deepEqual(missing.slice(0, 10), [], `${missing.length} lines never arrived`)
  return ids.length - seen.size
}

/** Deterministic pseudo-random numbers (a seeded LCG): the kill moments are random but reproducible. */
function seeded (seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648
  }
}

interface Fixture { matomo: FakeMatomo, dir: string, file: string, state: string, base: string[] }

async function fixture (t: TestContext, options: FakeMatomoOptions = {}): Promise<Fixture> {
  const matomo = await startFakeMatomo(options)
  t.after(async () => { await matomo.close() })
  const dir = tmpDir(t, 'mf-restart-')
  const file = join(dir, 'access.log')
  const state = join(dir, 'state')
  // An explicit format: --format auto may release up to 50 lines at once while detecting (docs/checkpoints.md).
  const base = ['--matomo-url', matomo.url, '--idsite', '1', '--state-dir', state, '--format', 'nginx-json', '--log-level', 'warn']
  return { matomo, dir, file, state, base }
}

describe('restart through the CLI (spawned)', () => {
  test('run, stop, append, run again: only the new lines are sent', async (t) => {
    const { matomo, file, base } = await fixture(t)
    writeFileSync(file, accessLines(0, 30))
    const first = await cli(['read', ...base, file])
    assert.equal(first.code, 0, first.stderr)
    assert.equal(matomo.hits.length, 30)

    appendFileSync(file, accessLines(30, 45))
    const second = await cli(['read', ...base, file])
    assert.equal(second.code, 0, second.stderr)
    assert.equal(assertAllArrived(matomo, 0, 45), 0)
    assert.equal(matomo.hits.length, 45)
    assert.deepEqual(storedIds(matomo).slice(30).sort(), Array.from({ length: 15 }, (_, i) => String(30 + i)).sort())

    const third = await cli(['read', ...base, file])
    assert.equal(third.code, 0, third.stderr)
    assert.equal(matomo.hits.length, 45, 'a finished file sends nothing')
  })

  test('the server refusing (500s, then resets): the run stops non-zero; server back: everything sent, nothing twice', async (t) => {
    let refuse: 'no' | '500' | 'reset' = 'no'
    const { matomo, file, base } = await fixture(t, {
      // Refuse from the 3rd batch on, so the first run delivers part of the file before it stops.
      script: ({ index, items }) => {
        if (refuse === 'no' || items.length === 0 || index < 3) return undefined
        return refuse === '500' ? { kind: 'error_500', tracked: 0 } : { kind: 'reset' }
      }
    })
    writeFileSync(file, accessLines(0, 200))
    const fast = ['--batch-size', '10', '--concurrency', '1', '--max-retries', '1', '--retry-max-delay-ms', '20']
    refuse = '500'
    const first = await cli(['read', ...base, ...fast, file])
    assert.equal(first.code, 1, first.stderr)
    assert.match(first.stderr, /MF_ERR_SINK_GAVE_UP/)
    assert.match(first.stderr, /matomo-forward summary/)
    const afterFirst = matomo.hits.length
    assert.ok(afterFirst > 0 && afterFirst < 200, `part of the file was delivered (${afterFirst})`)

    refuse = 'reset'
    const second = await cli(['read', ...base, ...fast, file])
    assert.equal(second.code, 1, second.stderr)
    assert.equal(matomo.hits.length, afterFirst, 'nothing is stored while the server resets connections')

    refuse = 'no'
    const third = await cli(['read', ...base, ...fast, file])
    assert.equal(third.code, 0, third.stderr)
    assert.equal(assertAllArrived(matomo, 0, 200), 0, 'no hit was stored twice')
    assert.equal(matomo.hits.length, 200)
  })

  test('kill -9 at random moments, restart, repeat: every line arrives, duplicates within concurrency × batch size per kill', async (t) => {
    const LINES = 3000
    const BATCH_SIZE = 10
    const CONCURRENCY = 2
    const KILLS = 5
    const { matomo, file, base } = await fixture(t, { latencyMs: 3 })
    writeFileSync(file, accessLines(0, LINES))
    const args = ['read', ...base, '--batch-size', String(BATCH_SIZE), '--concurrency', String(CONCURRENCY), '--no-preflight', file]
    const random = seeded(Number(process.env.MF_KILL_SEED ?? 20251125))
    let kills = 0
    for (let i = 0; i < KILLS; i++) {
      const before = matomo.hits.length
      const run = start(args)
      // Kill while it is delivering, not while it is still starting.
      await waitFor('the CLI to deliver', () => matomo.hits.length > before + BATCH_SIZE || run.child.exitCode !== null)
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 200)))
      if (run.child.exitCode === null) {
        run.child.kill('SIGKILL')
        kills++
      }
      const { signal } = await run.done
      if (signal === 'SIGKILL') t.diagnostic(`kill ${i + 1}: ${matomo.hits.length} hits stored`)
    }
    const last = await cli(args)
    assert.equal(last.code, 0, last.stderr)
    const duplicates = assertAllArrived(matomo, 0, LINES)
    const bound = kills * CONCURRENCY * BATCH_SIZE
    t.diagnostic(`${kills} kills, ${duplicates} duplicates (bound ${bound})`)
    assert.ok(kills >= 3, `the CLI was killed mid-run (${kills} times)`)
    assert.ok(duplicates <= bound, `${duplicates} duplicates after ${kills} kills exceed ${bound}`)
  })

  test('SIGTERM during a run: in-flight batches are answered, summary and checkpoint written; the next run sends only the rest', async (t) => {
    // More lines than the reader buffers ahead of the sender (one read chunk plus the sink's high-water mark).
    const LINES = 3000
    const { matomo, dir, file, state, base } = await fixture(t, { latencyMs: 20 })
    writeFileSync(file, accessLines(0, LINES))
    const summaryPath = join(dir, 'summary.json')
    const args = ['read', ...base, '--batch-size', '10', '--concurrency', '2', '--no-preflight', '--summary-json', summaryPath, file]
    const run = start(args)
    await waitFor('the CLI to deliver', () => matomo.hits.length >= 50)
    run.child.kill('SIGTERM')
    const first = await run.done
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stderr, /SIGTERM: stopping/)
    assert.match(first.stderr, /matomo-forward summary/)
    const stored = matomo.hits.length
    assert.ok(stored < LINES, `stopped before the end (${stored})`)
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as Record<string, number>
    assert.equal(summary.hits_tracked_total, stored, 'every hit Matomo stored was answered and counted')
    assert.equal(summary.hits_pending_at_exit_total ?? 0, 0)
    assert.ok(existsSync(join(state, 'checkpoints.json')))

    const second = await cli(args)
    assert.equal(second.code, 0, second.stderr)
    assert.equal(assertAllArrived(matomo, 0, LINES), 0, 'the second run sent only the rest')
    assert.equal(matomo.hits.length, LINES)
  })

  test('SIGTERM on read - before standard input ended: what was read is delivered, but the exit code is 1 (a stream cannot be resumed)', async (t) => {
    const { matomo, dir, base } = await fixture(t)
    const summaryPath = join(dir, 'summary.json')
    const child = spawn(process.execPath, [BIN, 'read', ...base, '--no-preflight', '--summary-json', summaryPath, '-'], { env: { PATH: process.env.PATH ?? '', ...TOKEN_ENV }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => { stderr += String(c) })
    const done = new Promise<number | null>((resolve) => { child.on('close', resolve) })
    child.stdin.write(accessLines(0, 20)) // and the producer keeps its end open
    await waitFor('the CLI to deliver', () => matomo.hits.length >= 20)
    child.kill('SIGTERM')
    assert.equal(await done, 1, stderr)
    assert.match(stderr, /stopped +standard input before its end/)
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as { streams_stopped_early: string[], hits_tracked_total: number }
    assert.deepEqual(summary.streams_stopped_early, ['standard input'])
    assert.equal(summary.hits_tracked_total, 20)
  })

  test('SIGTERM on read of a named pipe no writer has opened: exits at once (exit 1, the stream stopped before its end)', async (t) => {
    const { dir, base } = await fixture(t)
    const fifo = makeFifo(t, join(dir, 'pipe'))
    if (fifo === undefined) return
    const run = start(['read', ...base, '--no-preflight', fifo])
    await new Promise((resolve) => setTimeout(resolve, 700)) // blocked in open(), waiting for a writer
    await stopsOnItsOwnWithStreamCut(run, 'pipe')
  })

  test('read of a named pipe: every line its writer sends; SIGTERM while the writer is open but silent exits at once', async (t) => {
    const { matomo, dir, base } = await fixture(t)
    const fifo = makeFifo(t, join(dir, 'pipe2'))
    if (fifo === undefined) return
    const run = start(['read', ...base, '--no-preflight', fifo])
    // The writer: 30 lines, then it keeps the pipe open without writing (as a quiet producer does).
    const writer = spawn('sh', ['-c', `cat > "${fifo}"`], { stdio: ['pipe', 'ignore', 'ignore'] })
    t.after(() => { writer.kill('SIGKILL') })
    writer.stdin.write(accessLines(0, 30))
    await waitFor('the lines to arrive', () => matomo.hits.length >= 30)
    await stopsOnItsOwnWithStreamCut(run, 'pipe2')
    assert.equal(matomo.hits.length, 30)
  })

  test('tail: appended lines arrive, rotation by rename loses nothing, SIGINT stops it cleanly', async (t) => {
    const { matomo, file, base } = await fixture(t)
    writeFileSync(file, accessLines(0, 3))
    const run = start(['tail', ...base, '--start-at', 'beginning', '--flush-interval-ms', '50', '--no-preflight', file])
    await waitFor('the existing lines', () => matomo.hits.length >= 3, { timeoutMs: 15_000 })

    appendFileSync(file, accessLines(3, 4))
    await waitFor('the appended line', () => storedIds(matomo).includes('3'), { timeoutMs: 15_000 })

    // logrotate "create": rename, the writer still appends to the old file for a moment, then a new file.
    appendFileSync(file, accessLines(4, 10))
    renameSync(file, file + '.1')
    appendFileSync(file + '.1', accessLines(10, 15))
    writeFileSync(file, accessLines(15, 20))
    appendFileSync(file, accessLines(20, 25))
    await waitFor('every line across the rotation', () => matomo.hits.length >= 25, { timeoutMs: 15_000 })

    run.child.kill('SIGINT')
    const result = await run.done
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /matomo-forward summary/)
    assert.equal(assertAllArrived(matomo, 0, 25), 0, 'nothing twice')
    assert.equal(matomo.hits.length, 25)
  })

  test('tail: copytruncate is followed from the start of the truncated file, and a restart resumes where it stopped', async (t) => {
    const { matomo, file, base } = await fixture(t)
    writeFileSync(file, accessLines(0, 5))
    const args = ['tail', ...base, '--start-at', 'beginning', '--flush-interval-ms', '50', '--no-preflight', file]
    const first = start(args)
    await waitFor('the existing lines', () => matomo.hits.length >= 5, { timeoutMs: 15_000 })

    // logrotate copytruncate: the content is copied away, the file truncated in place, the writer goes on.
    copyFileSync(file, file + '.1')
    truncateSync(file, 0)
    appendFileSync(file, accessLines(5, 12))
    await waitFor('the lines written after the truncation', () => matomo.hits.length >= 12, { timeoutMs: 15_000 })
    first.child.kill('SIGINT')
    assert.equal((await first.done).code, 0)

    appendFileSync(file, accessLines(12, 16))
    const second = start(args)
    await waitFor('the lines written while it was stopped', () => matomo.hits.length >= 16, { timeoutMs: 15_000 })
    second.child.kill('SIGINT')
    const result = await second.done
    assert.equal(result.code, 0, result.stderr)
    assert.equal(assertAllArrived(matomo, 0, 16), 0, 'nothing twice: not the copy, not what the first run delivered')
    assert.equal(matomo.hits.length, 16)
  })

  test('SIGTERM while Matomo does not answer: exit 1 with MF_ERR_SINK_STOPPED and the unanswered hits counted, nothing checkpointed', async (t) => {
    // The reader is held back by the duplicate bound when the signal comes: the stop must still say that hits
    // were not delivered (it exited 0 before, with hits_pending_at_exit_total 0).
    const { matomo, dir, file, state, base } = await fixture(t, { script: () => ({ kind: 'slow', delayMs: 60_000 }) })
    writeFileSync(file, accessLines(0, 3000))
    const summaryFile = join(dir, 'summary.json')
    const run = start(['read', ...base, '--no-preflight', '--shutdown-timeout-ms', '300', '--summary-json', summaryFile, file])
    await waitFor('requests in flight', () => matomo.bulkCount >= 1, { timeoutMs: 15_000 })
    run.child.kill('SIGTERM')
    const result = await run.done
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /MF_ERR_SINK_STOPPED/)
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as { hits_total: number, hits_pending_at_exit_total: number }
    assert.ok(summary.hits_total > 0)
    assert.equal(summary.hits_pending_at_exit_total, summary.hits_total, 'every hit read is unanswered')
    assert.equal(matomo.hits.length, 0)
    const stored = readdirSync(state).includes('checkpoints.json') ? readFileSync(join(state, 'checkpoints.json'), 'utf8') : ''
    assert.doesNotMatch(stored, /"offset": ?[1-9]/, 'no checkpoint past line 1')
  })

  test('tail of - and a file: standard input failing stops the whole run (exit, lock released, file checkpointed), not just its reader', async (t) => {
    const { matomo, file, state } = await fixture(t)
    writeFileSync(file, accessLines(0, 3))
    // --format auto: standard input holds one JSON line of no known format, which stops the run at its end.
    const args = ['tail', '--matomo-url', matomo.url, '--idsite', '1', '--state-dir', state, '--log-level', 'warn', '--start-at', 'beginning', '--flush-interval-ms', '50', '--no-preflight', '-', file]
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...TOKEN_ENV }, stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => { stderr += String(c) })
    const closed = new Promise<number | null>((resolve) => { child.on('close', (code) => { resolve(code) }) })
    t.after(() => { child.kill('SIGKILL') })
    await waitFor('the file\'s lines', () => matomo.hits.length >= 3, { timeoutMs: 15_000 })
    child.stdin.end('{"a":1}\n')
    let code: number | null | undefined
    void closed.then((c) => { code = c })
    await waitFor('the process to exit (it kept following the file before)', () => code !== undefined, { timeoutMs: 15_000 })
    assert.equal(code, 2, stderr)
    assert.match(stderr, /MF_ERR_FORMAT_UNDETECTED/)
    assert.equal(existsSync(join(state, 'lock')), false)
    appendFileSync(file, accessLines(3, 5))
    assert.equal((await cli(['read', '--matomo-url', matomo.url, '--idsite', '1', '--state-dir', state, '--no-preflight', file])).code, 0)
    assert.deepEqual(storedIds(matomo), ['0', '1', '2', '3', '4'], 'the file resumes from its checkpoint: each line once')
  })

  test('tail of a pattern: a file that appears later is read from its start; a deleted file loses nothing written before', async (t) => {
    const { matomo, dir, file, base } = await fixture(t)
    writeFileSync(file, accessLines(0, 3))
    const run = start(['tail', ...base, '--start-at', 'beginning', '--flush-interval-ms', '50', '--no-preflight', join(dir, '*.log')])
    await waitFor('the existing lines', () => matomo.hits.length >= 3, { timeoutMs: 15_000 })

    const late = join(dir, 'late.log')
    writeFileSync(late, accessLines(100, 104))
    await waitFor('the file that appeared', () => matomo.hits.length >= 7, { timeoutMs: 15_000 })

    appendFileSync(file, accessLines(3, 5))
    unlinkSync(file)
    appendFileSync(late, accessLines(104, 106))
    await waitFor('the lines written before the deletion, and the later file going on', () => matomo.hits.length >= 11, { timeoutMs: 15_000 })

    run.child.kill('SIGINT')
    const result = await run.done
    assert.equal(result.code, 0, result.stderr)
    const ids = storedIds(matomo).sort((a, b) => Number(a) - Number(b))
    assert.deepEqual(ids, ['0', '1', '2', '3', '4', '100', '101', '102', '103', '104', '105'], 'each line once')
  })

  test('a corrupt checkpoint file with no valid temp copy stops with MF_ERR_CHECKPOINT_CORRUPT (exit 2), sends nothing', async (t) => {
    const { matomo, file, state, base } = await fixture(t)
    writeFileSync(file, accessLines(0, 10))
    assert.equal((await cli(['read', ...base, file])).code, 0)
    appendFileSync(file, accessLines(10, 20))
    const main = join(state, 'checkpoints.json')
    for (const damage of ['', readFileSync(main, 'utf8').slice(0, 40), '{"version":1,"seq":"x"}', '\u0000'.repeat(64)]) {
      writeFileSync(main, damage)
      const r = await cli(['read', ...base, file])
      assert.equal(r.code, 2, r.stderr)
      assert.match(r.stderr, /MF_ERR_CHECKPOINT_CORRUPT/)
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
      assert.equal(matomo.hits.length, 10, 'nothing sent, no silent restart from zero')
    }
  })

  test('--ignore-checkpoints gets past a corrupt checkpoint file, as its error says: the file is moved aside, every line is sent again', async (t) => {
    const { matomo, file, state, base } = await fixture(t)
    writeFileSync(file, accessLines(0, 10))
    assert.equal((await cli(['read', ...base, file])).code, 0)
    const main = join(state, 'checkpoints.json')
    writeFileSync(main, '{"version":1,"seq":')
    const refused = await cli(['read', ...base, file])
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /--ignore-checkpoints/, 'the error names the way out')
    const r = await cli(['read', ...base, '--ignore-checkpoints', file])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /checkpoints\.json is damaged .*moved it to .*checkpoints\.json\.damaged-/)
    assert.equal(matomo.hits.length, 20, 'the 10 lines again, from the start')
    assert.equal(readdirSync(state).filter((n) => n.startsWith('checkpoints.json.damaged-')).length, 1)
    assert.equal((await cli(['read', ...base, file])).code, 0, 'the next plain run resumes from the new checkpoint')
    assert.equal(matomo.hits.length, 20, 'nothing re-sent')
  })

  test('a torn checkpoint file with a valid newer temp file: recovered from it, only the rest is sent', async (t) => {
    const { matomo, file, state, base } = await fixture(t)
    writeFileSync(file, accessLines(0, 10))
    assert.equal((await cli(['read', ...base, file])).code, 0)
    const main = join(state, 'checkpoints.json')
    const good = readFileSync(main, 'utf8')
    // A crash between writing the temp file and the rename: the temp file is complete, the main one torn.
    const data = JSON.parse(good) as { seq: number }
    writeFileSync(main + '.tmp', JSON.stringify({ ...data, seq: data.seq + 1 }))
    writeFileSync(main, good.slice(0, good.length >> 1))
    appendFileSync(file, accessLines(10, 20))
    const r = await cli(['read', ...base, file])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /recovered checkpoints from/)
    assert.equal(assertAllArrived(matomo, 0, 20), 0)
    assert.equal(matomo.hits.length, 20)
  })
})
