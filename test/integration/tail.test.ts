// tail on real files: start position, checkpoints, rotation by rename, copytruncate, truncation, deletion, new files, pieces.
import assert from 'node:assert/strict'
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { CHECKPOINT_FILE, type CheckpointEntry } from '../../src/checkpoint/store.js'
import { tail } from '../../src/pipeline.js'
import type { Summary } from '../../src/summary.js'
import { createLogger } from '../../src/log.js'
import { silentLogger, testConfig } from '../helpers/config.js'
import { accessLine, accessLines } from '../helpers/log-lines.js'
import { createTestSink, type TestSink } from '../helpers/test-sink.js'
import { waitFor } from '../helpers/wait-for.js'

interface Tailing {
  sink: TestSink
  stop: () => Promise<Summary>
}

/** A temp dir whose tails are stopped before it is removed (after hooks run in registration order). */
function setup (t: { after: (fn: () => Promise<void>) => void }): { dir: string, startTail: (files: string[], flags?: Record<string, unknown>, timing?: { pollIntervalMs?: number, retireIdleMs?: number }) => Tailing } {
  const dir = mkdtempSync(join(tmpdir(), 'mf-tail-'))
  const running: Tailing[] = []
  t.after(async () => {
    for (const tailing of running) await tailing.stop().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  })
  return {
    dir,
    startTail: (files, flags, timing) => {
      const tailing = startTail(dir, files, flags, timing)
      running.push(tailing)
      return tailing
    }
  }
}

function startTail (dir: string, files: string[], flags: Record<string, unknown> = {}, timing: { pollIntervalMs?: number, retireIdleMs?: number } = { pollIntervalMs: 20, retireIdleMs: 60 }): Tailing {
  const sink = createTestSink()
  const controller = new AbortController()
  const running = tail({ config: testConfig('tail', files, join(dir, 'state'), flags), logger: silentLogger(), sink, cwd: dir, signal: controller.signal, ...timing })
  running.catch(() => undefined)
  return {
    sink,
    stop: async () => {
      controller.abort()
      return await running
    }
  }
}

function ids (from: number, to: number, prefix = ''): string[] {
  return Array.from({ length: to - from }, (_, i) => prefix + String(from + i))
}

async function received (sink: TestSink, expected: string[], what: string): Promise<void> {
  await waitFor(what, () => sink.acked.length >= expected.length)
  assert.deepEqual([...sink.acked].sort(), [...expected].sort(), what)
  assert.equal(new Set(sink.acked).size, sink.acked.length, 'no line twice')
}

/** Waits until the tail has done its first poll: it records the start position of every file it found. */
/** A tail started on an empty access.log (under `patterns`), once it has recorded the file. */
async function tailEmptyLog (t: { after: (fn: () => Promise<void>) => void }, patterns: string[]): Promise<{ dir: string, log: string, tailing: Tailing }> {
  const { dir, startTail } = setup(t)
  const log = join(dir, 'access.log')
  writeFileSync(log, '')
  const tailing = startTail(patterns)
  await ready(dir)
  return { dir, log, tailing }
}

async function ready (dir: string, files = 1): Promise<void> {
  await waitFor('the tail to start', () => {
    const sources = (JSON.parse(readFileSync(join(dir, 'state', CHECKPOINT_FILE), 'utf8')) as { sources: unknown[] }).sources
    return sources.length >= files
  })
}

/**
 * access.log with `existing` lines, followed from its end (the default) while `appended` lines are written,
 * then stopped: the state dir now knows the file.
 */
async function tailedOnce (t: { after: (fn: () => Promise<void>) => void }, existing: number, appended: number): Promise<{ dir: string, log: string, startTail: ReturnType<typeof setup>['startTail'] }> {
  const { dir, startTail } = setup(t)
  const log = join(dir, 'access.log')
  writeFileSync(log, accessLines(0, existing))
  const tailing = startTail(['access.log'])
  await ready(dir)
  appendFileSync(log, accessLines(existing, existing + appended))
  await received(tailing.sink, ids(existing, existing + appended), 'the lines appended while following')
  await tailing.stop()
  return { dir, log, startTail }
}

/** Lets a few polls happen, so a test's next step meets a tailer that has seen the current state. */
async function afterPolls (count = 3, intervalMs = 20): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, count * intervalMs + 20))
}

describe('tail', () => {
  test('starts at the end of existing files (at a line start), then follows appended lines', async (t) => {
    const { dir, startTail } = setup(t)
    const log = join(dir, 'access.log')
    const partial = accessLine(2)
    writeFileSync(log, accessLines(0, 2) + partial.slice(0, 20))
    const tailing = startTail(['access.log'])
    await ready(dir)
    appendFileSync(log, partial.slice(20) + accessLines(3, 5))
    await received(tailing.sink, ids(2, 5), 'the line that was being written and the appended ones')
  })

  test('starting at the end of a file keeps true line numbers (checkpoint line, reject records)', async (t) => {
    const { dir } = await tailedOnce(t, 5, 1)
    const [entry] = JSON.parse(readFileSync(join(dir, 'state', CHECKPOINT_FILE), 'utf8')).sources as CheckpointEntry[]
    assert.equal(entry?.line, 6, 'six lines before the checkpoint, not one')
  })

  test('a rotation while tail is stopped: after the restart the new file is read whole, not from its end', async (t) => {
    const { dir, log, startTail } = await tailedOnce(t, 2, 1)
    // logrotate while stopped: the followed file is renamed away, the new one gets lines at once.
    renameSync(log, join(dir, 'access.log.1'))
    writeFileSync(log, accessLines(3, 6))
    const second = startTail(['access.log'])
    await received(second.sink, ids(3, 6), 'the lines of the file that appeared while tail was stopped')
  })

  test('--start-at beginning reads existing files whole; a restart resumes from the checkpoint', async (t) => {
    const { dir, startTail } = setup(t)
    const log = join(dir, 'access.log')
    writeFileSync(log, accessLines(0, 5))
    const first = startTail(['access.log'], { 'start-at': 'beginning' })
    await received(first.sink, ids(0, 5), 'the existing lines')
    await first.stop()
    const [entry] = JSON.parse(readFileSync(join(dir, 'state', CHECKPOINT_FILE), 'utf8')).sources as CheckpointEntry[]
    assert.equal(entry?.offset, readFileSync(log).length)

    appendFileSync(log, accessLines(5, 8))
    const second = startTail(['access.log'], { 'start-at': 'beginning' })
    await received(second.sink, ids(5, 8), 'only the lines written while it was down')
  })

  test('follows rotation by rename: drains the old file (even lines written after the rename), then opens the new one', async (t) => {
    const { dir, log, tailing } = await tailEmptyLog(t, ['access.log'])
    appendFileSync(log, accessLines(0, 5))
    await received(tailing.sink, ids(0, 5), 'lines before the rotation')
    appendFileSync(log, accessLines(5, 8))
    renameSync(log, join(dir, 'access.log.1'))
    // The writer still holds the old descriptor for a moment (nginx until USR1).
    appendFileSync(join(dir, 'access.log.1'), accessLines(8, 10))
    writeFileSync(log, accessLines(10, 13))
    await received(tailing.sink, ids(0, 13), 'every line of both files, once')
  })

  test('copytruncate: the copy is not read again, the truncated file is read from its start', async (t) => {
    const { dir, log, tailing } = await tailEmptyLog(t, ['access.log*'])
    appendFileSync(log, accessLines(0, 30))
    await received(tailing.sink, ids(0, 30), 'lines before the rotation')
    copyFileSync(log, join(dir, 'access.log.1'))
    truncateSync(log, 0)
    await afterPolls()
    appendFileSync(log, accessLines(30, 33))
    await received(tailing.sink, ids(0, 33), 'the new lines, and the copy not sent again')
  })

  test('truncation followed by more lines than before: the changed first bytes give it away', async (t) => {
    const { log, tailing } = await tailEmptyLog(t, ['access.log'])
    appendFileSync(log, accessLines(0, 3))
    await received(tailing.sink, ids(0, 3), 'lines before the truncation')
    // Truncated and refilled past the old offset between two polls.
    writeFileSync(log, accessLines(100, 110))
    await received(tailing.sink, [...ids(0, 3), ...ids(100, 110)], 'the new content from its start')
  })

  test('a deleted file is drained before it is forgotten; a file appearing later is read from its beginning', async (t) => {
    const { dir, startTail } = setup(t)
    const log = join(dir, 'a.log')
    writeFileSync(log, '')
    const tailing = startTail(['*.log'])
    await ready(dir)
    appendFileSync(log, accessLines(0, 4))
    unlinkSync(log)
    writeFileSync(join(dir, 'b.log'), accessLines(0, 3, 'b'))
    await received(tailing.sink, [...ids(0, 4), ...ids(0, 3, 'b')], 'the deleted file\'s last lines and the new file whole')
  })

  test('a line written in pieces is sent once, whole, when its newline arrives', async (t) => {
    const { dir, startTail } = setup(t)
    const log = join(dir, 'a.log')
    writeFileSync(log, '')
    const tailing = startTail(['a.log'])
    await ready(dir)
    const line = accessLine(7)
    for (let i = 0; i < line.length; i += 25) {
      appendFileSync(log, line.slice(i, i + 25))
      await afterPolls(1)
    }
    await received(tailing.sink, ['7'], 'the line')
  })

  test('with the default intervals, a line written to a quiet file reaches the sink in about a second', async (t) => {
    const { dir, startTail } = setup(t)
    const log = join(dir, 'a.log')
    writeFileSync(log, accessLines(0, 1))
    const tailing = startTail(['a.log'], {}, {})
    await ready(dir)
    appendFileSync(log, accessLine(1))
    await waitFor('the line within the flush interval (generous margin for slow CI)', () => tailing.sink.acked.includes('1'), { timeoutMs: 5000 })
  })

  test('stops on abort with the checkpoint of acknowledged lines only', async (t) => {
    const { dir } = setup(t)
    const log = join(dir, 'a.log')
    writeFileSync(log, accessLines(0, 10))
    const sink = createTestSink({ mode: 'manual' })
    const controller = new AbortController()
    const running = tail({ config: testConfig('tail', ['a.log'], join(dir, 'state'), { 'start-at': 'beginning', 'shutdown-timeout-ms': 30 }), logger: silentLogger(), sink, cwd: dir, signal: controller.signal, pollIntervalMs: 20 })
    await waitFor('all lines pushed', () => sink.pushed.length === 10)
    sink.ackFirst(6)
    controller.abort()
    const summary = await running
    assert.equal(summary.hitsPendingAtExit, 4)
    const [entry] = JSON.parse(readFileSync(join(dir, 'state', CHECKPOINT_FILE), 'utf8')).sources as CheckpointEntry[]
    assert.equal(entry?.offset, Buffer.byteLength(accessLines(0, 6)))
  })

  test('a rotated-away file is not retired while a backlog is left (a poll reads 8 MiB at most)', async (t) => {
    const { dir, startTail } = setup(t)
    const log = join(dir, 'access.log')
    const count = 150_000 // ~21 MiB: three polls' worth
    let text = ''
    for (let i = 0; i < count; i += 10_000) text += accessLines(i, Math.min(count, i + 10_000))
    writeFileSync(log, text)
    // A short idle time: a poll that takes longer than it (reading 8 MiB does) must not make the file look idle.
    const tailing = startTail(['access.log'], { 'start-at': 'beginning' }, { pollIntervalMs: 20, retireIdleMs: 5 })
    await ready(dir)
    renameSync(log, join(dir, 'access.log.1'))
    writeFileSync(log, '')
    await waitFor('every line of the rotated file', () => tailing.sink.acked.length >= count, { timeoutMs: 60_000 })
    assert.equal(new Set(tailing.sink.acked).size, count, 'each line once')
  })

  test('the last line of a rotated-away file is processed at retirement even without a newline, as read does', async (t) => {
    const { dir, startTail } = setup(t)
    const log = join(dir, 'access.log')
    writeFileSync(log, accessLine(0) + accessLine(1).trimEnd())
    const tailing = startTail(['access.log'], { 'start-at': 'beginning' })
    await received(tailing.sink, ['0'], 'the whole line')
    renameSync(log, join(dir, 'access.log.1'))
    await received(tailing.sink, ['0', '1'], 'the unterminated last line, once the rotated file is done')
  })

  test('a skipped gzip file whose inode comes back as a plain log file (deleted, inode reused) is followed', async (t) => {
    const { dir, startTail } = setup(t)
    const log = join(dir, 'access.log')
    writeFileSync(log, gzipSync(accessLines(0, 3)))
    const tailing = startTail(['access.log'], { 'start-at': 'beginning' })
    await afterPolls(5)
    assert.deepEqual(tailing.sink.acked, [], 'gzip is not followed')
    // Rewritten in place: same dev:ino, other content, as a new file on a reused inode would be.
    writeFileSync(log, accessLines(10, 13))
    await received(tailing.sink, ids(10, 13), 'the plain file at the skipped inode')
  })

  test('a pattern that matches nothing at start is warned about once, and a file that appears later is read', async (t) => {
    const { dir } = setup(t)
    const logs: string[] = []
    const logger = createLogger('warn', new Writable({ write (chunk, _e, cb) { logs.push(String(chunk)); cb() } }))
    const sink = createTestSink()
    const controller = new AbortController()
    const running = tail({ config: testConfig('tail', ['app-*.log'], join(dir, 'state'), { 'start-at': 'beginning' }), logger, sink, cwd: dir, signal: controller.signal, pollIntervalMs: 20 })
    t.after(async () => { controller.abort(); await running.catch(() => undefined) })
    await waitFor('the warning', () => logs.some((l) => l.includes('no file matches app-*.log yet')))
    writeFileSync(join(dir, 'app-1.log'), accessLines(0, 2))
    await received(sink, ids(0, 2), 'the file that appeared')
    assert.equal(logs.filter((l) => l.includes('no file matches')).length, 1, 'warned once')
  })

  test('a file whose format cannot be told is left; the other files are followed on; the run ends with its error', async (t) => {
    const { dir } = setup(t)
    // Request-like lines of a layout no format knows: held, then MF_ERR_FORMAT_UNDETECTED after 1,000 of them.
    const unknown = JSON.stringify({ level: 'info', msg: 'request', method: 'GET', path: '/x', status: 200 }) + '\n'
    writeFileSync(join(dir, 'a.log'), unknown.repeat(1200))
    writeFileSync(join(dir, 'b.log'), '')
    const sink = createTestSink()
    const controller = new AbortController()
    const running = tail({ config: testConfig('tail', ['*.log'], join(dir, 'state'), { format: 'auto', 'start-at': 'beginning' }), logger: silentLogger(), sink, cwd: dir, signal: controller.signal, pollIntervalMs: 20 })
    running.catch(() => undefined)
    t.after(async () => { controller.abort(); await running.catch(() => undefined) })
    await new Promise((resolve) => setTimeout(resolve, 200))
    appendFileSync(join(dir, 'b.log'), accessLines(0, 3))
    await received(sink, ids(0, 3), 'the other file, after the undetectable one was left')
    // copytruncate of the left file, refilled with lines of a known format: it is followed anew.
    truncateSync(join(dir, 'a.log'), 0)
    appendFileSync(join(dir, 'a.log'), accessLines(10, 12))
    await received(sink, [...ids(0, 3), ...ids(10, 12)], 'the left file, once truncated and refilled')
    controller.abort()
    await assert.rejects(running, { code: 'MF_ERR_FORMAT_UNDETECTED', message: /a\.log/ })
  })

  test('a tail whose lock was taken over by another run (it was paused too long) stops with MF_ERR_CHECKPOINT_LOCKED', async (t) => {
    const { dir } = setup(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 3))
    const sink = createTestSink()
    const controller = new AbortController()
    const running = tail({ config: testConfig('tail', ['a.log'], join(dir, 'state'), { 'start-at': 'beginning' }), logger: silentLogger(), sink, cwd: dir, signal: controller.signal, pollIntervalMs: 20, lockRefreshMs: 20 })
    running.catch(() => undefined)
    t.after(async () => { controller.abort(); await running.catch(() => undefined) })
    await received(sink, ids(0, 3), 'the first lines')
    writeFileSync(join(dir, 'state', 'lock'), '4242 other-host.example - - -\n')
    await assert.rejects(running, { code: 'MF_ERR_CHECKPOINT_LOCKED', message: /now names process 4242/ })
  })

  test('tail of a directory says it is one and how to name its files', async (t) => {
    const { dir } = setup(t)
    mkdirSync(join(dir, 'logs'))
    const logs: string[] = []
    const logger = createLogger('warn', new Writable({ write (chunk, _e, cb) { logs.push(String(chunk)); cb() } }))
    const controller = new AbortController()
    const running = tail({ config: testConfig('tail', ['logs'], join(dir, 'state')), logger, sink: createTestSink(), cwd: dir, signal: controller.signal, pollIntervalMs: 20 })
    t.after(async () => { controller.abort(); await running.catch(() => undefined) })
    await waitFor('the warning', () => logs.some((l) => l.includes('no file matches logs (a directory: name its files, e.g. logs/*.log) yet')))
  })

  test('a backlog in one file does not keep a new file waiting: each file gets its share of every round', { timeout: 60_000 }, async (t) => {
    const { dir } = setup(t)
    const count = 20_000 // ~3 MiB: several rounds' worth at 1 MiB per file and round
    let text = ''
    for (let i = 0; i < count; i += 5000) text += accessLines(i, i + 5000, 'a')
    writeFileSync(join(dir, 'a.log'), text)
    // A sender slower than reading: 100 hits per 10 ms, so the backlog takes seconds.
    const sink = createTestSink({ mode: 'lanes', batchSize: 100, concurrency: 1, delayMs: 10 })
    const controller = new AbortController()
    const running = tail({ config: testConfig('tail', ['*.log'], join(dir, 'state'), { 'start-at': 'beginning' }), logger: silentLogger(), sink, cwd: dir, signal: controller.signal, pollIntervalMs: 20 })
    t.after(async () => { controller.abort(); await running.catch(() => undefined) })
    await waitFor('the backlog to be under way', () => sink.acked.length > 0)
    writeFileSync(join(dir, 'b.log'), accessLines(0, 1, 'b'))
    await waitFor('the new file\'s line', () => sink.acked.includes('b0'), { timeoutMs: 50_000 })
    const fromA = sink.acked.filter((id) => id.startsWith('a')).length
    assert.ok(fromA < count, `the new file's line came after all ${fromA} lines of the backlog`)
  })
})

