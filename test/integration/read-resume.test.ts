// read resumes every file from its checkpoint: only new lines are sent, failures hold the checkpoint back.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { appendFileSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmdirSync, rmSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, Readable, Writable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { describe, test } from 'node:test'
import { CHECKPOINT_FILE, type CheckpointEntry } from '../../src/checkpoint/store.js'
import { createLogger } from '../../src/log.js'
import { forward } from '../../src/pipeline.js'
import { Summary } from '../../src/summary.js'
import type { HitSink } from '../../src/sink/sink.js'
import { silentLogger, testConfig } from '../helpers/config.js'
import { accessLine, accessLines } from '../helpers/log-lines.js'
import { createTestSink, type TestSinkOptions } from '../helpers/test-sink.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait-for.js'

function checkpoints (stateDir: string): CheckpointEntry[] {
  return (JSON.parse(readFileSync(join(stateDir, CHECKPOINT_FILE), 'utf8')) as { sources: CheckpointEntry[] }).sources
}

function ids (from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => String(from + i))
}

async function run (dir: string, files: string[], sinkOptions: TestSinkOptions = {}, flags: Record<string, unknown> = {}, extra: { signal?: AbortSignal, sink?: HitSink, stdin?: Readable } = {}): Promise<ReturnType<typeof createTestSink>> {
  const sink = createTestSink(sinkOptions)
  await forward({ config: testConfig('read', files, join(dir, 'state'), flags), logger: silentLogger(), sink: extra.sink ?? sink, cwd: dir, signal: extra.signal, stdin: extra.stdin })
  return sink
}

describe('read with checkpoints', () => {
  test('run, append, run again: only the new lines are sent; a finished file sends nothing', async (t) => {
    const dir = tmpDir(t)
    const log = join(dir, 'access.log')
    writeFileSync(log, accessLines(0, 30))
    assert.deepEqual((await run(dir, ['access.log'])).acked, ids(0, 30))
    const [entry] = checkpoints(join(dir, 'state'))
    assert.equal(entry?.offset, readFileSync(log).length)
    assert.equal(entry?.line, 30)
    assert.equal(entry?.path, log)

    appendFileSync(log, accessLines(30, 45))
    assert.deepEqual((await run(dir, ['access.log'])).acked, ids(30, 45))
    assert.deepEqual((await run(dir, ['access.log'])).pushed, [])
  })

  test('the same file under two names (a symlink and a hard link matched by one glob) is read once', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'app-2026-11-25.log'), accessLines(0, 20))
    symlinkSync('app-2026-11-25.log', join(dir, 'current.log'))
    linkSync(join(dir, 'app-2026-11-25.log'), join(dir, 'hard.log'))
    // The test sink acknowledges late: while the first name is read, nothing is on disk for the second.
    const sink = await run(dir, ['*.log'], { mode: 'lanes', batchSize: 50, concurrency: 1 })
    assert.deepEqual(sink.pushed, ids(0, 20), 'each line once')
    assert.deepEqual(sink.acked, ids(0, 20))
    assert.deepEqual((await run(dir, ['current.log', 'hard.log'])).pushed, [], 'finished under every name')
  })

  test('the same content under two names in one run (a copy; access.log.1 beside the .gz logrotate is writing) is sent once', async (t) => {
    const dir = tmpDir(t)
    const content = accessLines(0, 40)
    writeFileSync(join(dir, 'access.log.1'), content)
    writeFileSync(join(dir, 'copy.log'), content)
    writeFileSync(join(dir, 'access.log.1.gz'), gzipSync(content))
    // Late acknowledgements: nothing of the first file is on disk when the others are opened.
    const sink = await run(dir, ['access.log.1', 'access.log.1.gz', 'copy.log'], { mode: 'lanes', batchSize: 10, concurrency: 1, delayMs: 20 })
    assert.deepEqual(sink.pushed, ids(0, 40), 'each line once')
    // A longer copy: only what the first reading did not cover.
    writeFileSync(join(dir, 'longer.log'), accessLines(0, 45))
    assert.deepEqual((await run(dir, ['access.log.1', 'longer.log'], {}, { 'ignore-checkpoints': true })).pushed, ids(0, 45))
    assert.deepEqual((await run(dir, ['copy.log', 'access.log.1.gz', 'longer.log'])).pushed, [], 'all of it checkpointed under every name')
  })

  test('a same-content file starts at what the first one has acknowledged: lines it failed are not checkpointed under the copy', async (t) => {
    const dir = tmpDir(t)
    const content = accessLines(0, 40)
    writeFileSync(join(dir, 'access.log.1'), content)
    writeFileSync(join(dir, 'access.log.1.gz'), gzipSync(content))
    // Matomo never acknowledges hits 30-39 (as after retries given up, or a crash), read with late acks.
    const flags = { 'request-timeout-ms': 1000, 'flush-interval-ms': 100 }
    const first = createTestSink({ mode: 'lanes', batchSize: 10, concurrency: 1, failing: (id) => Number(id) >= 30 })
    await assert.rejects(run(dir, ['access.log.1', 'access.log.1.gz'], {}, flags, { sink: first }), { code: 'MF_ERR_SINK_GAVE_UP' })
    assert.deepEqual(first.acked, ids(0, 30))
    // logrotate is done compressing: access.log.1 is gone, only the .gz is left. The lines it failed are still owed.
    rmSync(join(dir, 'access.log.1'))
    assert.deepEqual((await run(dir, ['access.log.1.gz'], {}, flags)).acked, ids(30, 40))
  })

  test('a copy still being made (shorter than the content delivered under the other name) is left for a later run, not checkpointed mid-line', async (t) => {
    const dir = tmpDir(t)
    const content = Buffer.from(accessLines(0, 400))
    writeFileSync(join(dir, 'access.log'), content)
    writeFileSync(join(dir, 'access.log.1'), content.subarray(0, Math.floor(content.length * 0.6) + 7)) // mid-line
    assert.deepEqual((await run(dir, ['access.log', 'access.log.1'])).acked, ids(0, 400))
    // The copy is complete and the live file truncated (copytruncate): nothing is owed, nothing is sent again.
    writeFileSync(join(dir, 'access.log.1'), content)
    truncateSync(join(dir, 'access.log'), 0)
    const summary = new Summary()
    const second = createTestSink()
    await forward({ config: testConfig('read', ['access.log', 'access.log.1'], join(dir, 'state')), logger: silentLogger(), sink: second, cwd: dir, summary })
    assert.deepEqual(second.pushed, [])
    assert.equal(summary.rejectedTotal, 0, 'no line cut in the middle')
    // The same from the checkpoint store, in separate runs: the copy in progress is left alone too.
    const other = tmpDir(t)
    writeFileSync(join(other, 'access.log'), content)
    assert.deepEqual((await run(other, ['access.log'])).acked, ids(0, 400))
    writeFileSync(join(other, 'access.log.1'), content.subarray(0, 5000))
    assert.deepEqual((await run(other, ['access.log.1'])).pushed, [])
    writeFileSync(join(other, 'access.log.1'), content)
    assert.deepEqual((await run(other, ['access.log.1'])).pushed, [], 'the finished copy is matched by content')
  })

  test('a file replaced under its name by a shorter one with the same first bytes (sed -i, tmp + mv) is read whole once finished: nothing of it lost', async (t) => {
    const dir = tmpDir(t)
    const log = join(dir, 'app.log')
    writeFileSync(log, accessLines(0, 40))
    assert.deepEqual((await run(dir, ['app.log'])).acked, ids(0, 40))
    writeFileSync(join(dir, 'tmp'), accessLines(0, 10) + accessLines(500, 505))
    renameSync(join(dir, 'tmp'), log)
    // Modified a moment ago: it may still be being written (a copy coming in under this name); left for later.
    assert.deepEqual((await run(dir, ['app.log'])).pushed, [])
    const anHourAgo = new Date(Date.now() - 3_600_000)
    utimesSync(log, anHourAgo, anHourAgo)
    assert.deepEqual((await run(dir, ['app.log'])).acked, [...ids(0, 10), ...ids(500, 505)])
    appendFileSync(log, accessLines(600, 640))
    assert.deepEqual((await run(dir, ['app.log'])).acked, ids(600, 640))
  })

  test('a damaged gzip file is reported and the inputs after it are still read; the run ends with its error', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 5))
    const gz = gzipSync(accessLines(100, 3000))
    writeFileSync(join(dir, 'b.log.gz'), gz.subarray(0, gz.length - 40)) // cut short, as by a full disk
    const anHourAgo = new Date(Date.now() - 3_600_000)
    utimesSync(join(dir, 'b.log.gz'), anHourAgo, anHourAgo) // (a recent one is taken as being written)
    writeFileSync(join(dir, 'c.log'), accessLines(10, 15))
    const sink = createTestSink()
    await assert.rejects(forward({ config: testConfig('read', ['a.log', 'b.log.gz', 'c.log'], join(dir, 'state')), logger: silentLogger(), sink, cwd: dir }),
      { code: 'MF_ERR_SOURCE_UNREADABLE', message: /b\.log\.gz/ })
    assert.ok(sink.acked.includes('14'), 'the file after the damaged one was read')
    assert.deepEqual(sink.acked.filter((id) => Number(id) < 100), [...ids(0, 5), ...ids(10, 15)])
    const again = createTestSink()
    await assert.rejects(forward({ config: testConfig('read', ['a.log', 'b.log.gz', 'c.log'], join(dir, 'state')), logger: silentLogger(), sink: again, cwd: dir }), { code: 'MF_ERR_SOURCE_UNREADABLE' })
    // The damaged file is read again from its checkpoint (it may give a little more: zlib drops what it had
    // buffered when it fails); nothing of the first run is sent twice.
    const both = [...sink.acked, ...again.acked]
    assert.equal(new Set(both).size, both.length, 'no line twice')
    assert.ok(again.acked.every((id) => Number(id) >= 100), 'the good files are finished')
  })

  test('a .gz that ends early and changed a moment ago is being written: read up to there with a warning, no error; the rest comes later', async (t) => {
    const dir = tmpDir(t)
    const gz = gzipSync(accessLines(0, 3000))
    writeFileSync(join(dir, 'access.log.1.gz'), gz.subarray(0, Math.floor(gz.length / 2)))
    const first = createTestSink()
    await forward({ config: testConfig('read', ['access.log.1.gz'], join(dir, 'state')), logger: silentLogger(), sink: first, cwd: dir })
    assert.ok(first.acked.length > 0 && first.acked.length < 3000, String(first.acked.length))
    assert.deepEqual(first.acked, ids(0, first.acked.length), 'whole lines, in order')
    writeFileSync(join(dir, 'access.log.1.gz'), gz) // logrotate is done
    assert.deepEqual((await run(dir, ['access.log.1.gz'])).acked, ids(first.acked.length, 3000))
    // A time in the future (clock skew, NFS) is no sign of a file being written: damaged.
    writeFileSync(join(dir, 'future.log.gz'), gz.subarray(0, Math.floor(gz.length / 2)))
    const later = new Date(Date.now() + 3_600_000)
    utimesSync(join(dir, 'future.log.gz'), later, later)
    await assert.rejects(forward({ config: testConfig('read', ['future.log.gz'], join(dir, 'state')), logger: silentLogger(), sink: createTestSink(), cwd: dir }), { code: 'MF_ERR_SOURCE_UNREADABLE' })
  })

  test('a format that cannot be detected stops the run, and the summary still adds up (the lines count as held)', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'app.log'), '{"ts":1,"svc":"x","event":"started"}\n\n{"ts":2,"svc":"x","event":"ready"}\n')
    const summary = new Summary()
    await assert.rejects(forward({ config: testConfig('read', ['app.log'], join(dir, 'state'), { format: 'auto' }), logger: silentLogger(), sink: createTestSink(), cwd: dir, summary }), { code: 'MF_ERR_FORMAT_UNDETECTED' })
    assert.equal(summary.linesRead, 3)
    assert.equal(summary.linesHeldAtExit, 2)
    assert.equal(summary.linesRead, summary.hits + summary.filteredTotal + summary.rejectedTotal + summary.linesHeldAtExit)
  })

  test('an input whose format cannot be detected does not keep the inputs after it from being read', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 5))
    writeFileSync(join(dir, 'b.log'), '{"ts":1,"svc":"x","event":"started"}\n')
    writeFileSync(join(dir, 'c.log'), accessLines(10, 15))
    const summary = new Summary()
    const sink = createTestSink()
    await assert.rejects(forward({ config: testConfig('read', ['a.log', 'b.log', 'c.log'], join(dir, 'state'), { format: 'auto' }), logger: silentLogger(), sink, cwd: dir, summary }),
      { code: 'MF_ERR_FORMAT_UNDETECTED', message: /b\.log/ })
    assert.deepEqual(sink.acked, [...ids(0, 5), ...ids(10, 15)], 'the file after it was read')
    assert.equal(summary.linesHeldAtExit, 1)
    const again = createTestSink()
    await assert.rejects(forward({ config: testConfig('read', ['a.log', 'b.log', 'c.log'], join(dir, 'state'), { format: 'auto' }), logger: silentLogger(), sink: again, cwd: dir }), { code: 'MF_ERR_FORMAT_UNDETECTED' })
    assert.deepEqual(again.pushed, [], 'the readable files are finished; the undetected one is tried again')
  })

  test('a signal before standard input is reached: it counts as stopped before its end (its lines are lost too)', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 5))
    const controller = new AbortController()
    controller.abort()
    const summary = new Summary()
    const fifo = join(dir, 'pipe')
    const withFifo = spawnSync('mkfifo', [fifo]).status === 0
    await forward({ config: testConfig('read', ['a.log', '-', ...(withFifo ? ['pipe'] : [])], join(dir, 'state')), logger: silentLogger(), sink: createTestSink(), cwd: dir, signal: controller.signal, stdin: Readable.from(['x\n']), summary })
    assert.deepEqual(summary.streamsStoppedEarly, ['standard input', ...(withFifo ? [fifo] : [])])
  })

  test('a small in-flight limit (concurrency × batch size) throttles reading but never stalls it', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'access.log'), accessLines(0, 3000))
    const sink = await run(dir, ['access.log'], {}, { 'batch-size': 5, concurrency: 1 })
    assert.deepEqual(sink.acked, ids(0, 3000))
  })

  test('a failing batch holds the checkpoint back; the next run re-sends from there and nothing acked twice', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'access.log'), accessLines(0, 50))
    // A sender that gave up at line 20 and sent nothing after it.
    await assert.rejects(run(dir, ['access.log'], { mode: 'lanes', batchSize: 10, concurrency: 1, failing: (id) => Number(id) >= 20 }), { code: 'MF_ERR_SINK_GAVE_UP' })
    const firstAcked = ids(0, 20)
    const expectedOffset = Buffer.byteLength(accessLines(0, 20))
    assert.equal(checkpoints(join(dir, 'state'))[0]?.offset, expectedOffset)
    const second = await run(dir, ['access.log'])
    assert.deepEqual(second.acked, ids(20, 50))
    assert.equal(second.acked.filter((id) => firstAcked.includes(id)).length, 0)
  })

  test('acknowledgements out of order: the checkpoint stops before the oldest unacknowledged line', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'access.log'), accessLines(0, 40))
    const failingBatch = (id: string): boolean => Number(id) >= 10 && Number(id) < 20
    const first = await run(dir, ['access.log'], { mode: 'lanes', batchSize: 10, concurrency: 2, failing: failingBatch }).catch(() => undefined)
    assert.equal(first, undefined, 'the run failed')
    assert.equal(checkpoints(join(dir, 'state'))[0]?.offset, Buffer.byteLength(accessLines(0, 10)))
    const second = await run(dir, ['access.log'])
    assert.deepEqual(second.acked, ids(10, 40), 'everything from the failed batch on is sent again, nothing before it')
  })

  test('a rotated file keeps its checkpoint under its new name (rename and gzip rotation)', async (t) => {
    const dir = tmpDir(t)
    const log = join(dir, 'access.log')
    writeFileSync(log, accessLines(0, 30))
    await run(dir, ['access.log*'])
    renameSync(log, join(dir, 'access.log.1'))
    writeFileSync(log, accessLines(30, 35, ''))
    appendFileSync(join(dir, 'access.log.1'), accessLine(99))
    assert.deepEqual((await run(dir, ['access.log*'])).acked, ['99', ...ids(30, 35)], 'the rotated file sends only its last line, oldest file first')

    // logrotate's compress step: access.log.1 → access.log.2.gz (a new inode, same content).
    writeFileSync(join(dir, 'access.log.2.gz'), gzipSync(readFileSync(join(dir, 'access.log.1'))))
    unlinkSync(join(dir, 'access.log.1'))
    assert.deepEqual((await run(dir, ['access.log*'])).pushed, [])
    assert.deepEqual((await run(dir, ['access.log*'])).pushed, [], 'a finished gzip file is skipped')
  })

  test('--ignore-checkpoints starts over, then overwrites the checkpoints', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 10))
    await run(dir, ['a.log'])
    assert.deepEqual((await run(dir, ['a.log'], {}, { 'ignore-checkpoints': true })).acked, ids(0, 10))
    assert.deepEqual((await run(dir, ['a.log'])).pushed, [])
  })

  test('a file shorter than its checkpoint (truncated) is read from the start', async (t) => {
    const dir = tmpDir(t)
    const log = join(dir, 'a.log')
    writeFileSync(log, accessLines(0, 30))
    await run(dir, ['a.log'])
    truncateSync(log, 0)
    // Same first bytes as before, fewer of them: the same file, truncated.
    appendFileSync(log, accessLines(0, 5))
    assert.deepEqual((await run(dir, ['a.log'])).acked, ids(0, 5))
  })

  test('a file truncated while it is read (copytruncate during a cron run): no half line is processed, the next run reads the new content', async (t) => {
    const dir = tmpDir(t)
    const log = join(dir, 'a.log')
    writeFileSync(log, accessLines(0, 3000)) // several read chunks
    const inner = createTestSink()
    let cut = false
    const sink: HitSink = { ...inner, push (hit) { if (!cut) { cut = true; truncateSync(log, 0) } inner.push(hit) } }
    const logs: string[] = []
    const logger = createLogger('warn', new Writable({ write (chunk, _e, cb) { logs.push(String(chunk)); cb() } }))
    const summary = await forward({ config: testConfig('read', ['a.log'], join(dir, 'state'), {}), logger, sink, cwd: dir })
    assert.equal(summary.rejectedTotal, 0, 'the cut line is not processed (it would be invalid_json)')
    assert.ok(inner.acked.length > 0 && inner.acked.length < 3000, `some lines read before the cut: ${inner.acked.length}`)
    assert.deepEqual(inner.acked, ids(0, inner.acked.length), 'whole lines, in order')
    assert.match(logs.join(''), /a\.log shrank while it was read/)
    const [entry] = checkpoints(join(dir, 'state'))
    assert.equal(entry?.line, inner.acked.length, 'the checkpoint stops after the last whole line')
    // The new content after the truncation (other lines) is read from the start by the next run.
    writeFileSync(log, accessLines(5000, 5010))
    assert.deepEqual((await run(dir, ['a.log'])).acked, ids(5000, 5010))
  })

  test('a gzip file rewritten in place with the same head but less content is read from the start, not skipped', async (t) => {
    const dir = tmpDir(t)
    const log = join(dir, 'a.log.gz')
    writeFileSync(log, gzipSync(accessLines(0, 30)))
    assert.deepEqual((await run(dir, ['a.log.gz'])).acked, ids(0, 30))
    // Same inode, same first KiB, shorter: the checkpoint (30 lines in) lies past its end.
    writeFileSync(log, gzipSync(accessLines(0, 10) + accessLines(100, 103)))
    assert.deepEqual((await run(dir, ['a.log.gz'])).acked, [...ids(0, 10), ...ids(100, 103)])
    // Grown past the checkpoint instead (a .gz still being written): resumed, not read again.
    writeFileSync(log, gzipSync(accessLines(0, 10) + accessLines(100, 103) + accessLines(200, 202)))
    assert.deepEqual((await run(dir, ['a.log.gz'])).acked, ids(200, 202))
  })

  test('rejected and filtered lines count as done; their reject records are on disk with the checkpoint', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 3) + 'not json\n' + accessLines(3, 5) + '\n')
    await run(dir, ['a.log'])
    const rejects = readFileSync(join(dir, 'state', 'rejects.ndjson'), 'utf8').trim().split('\n')
    assert.equal(rejects.length, 1)
    assert.equal(checkpoints(join(dir, 'state'))[0]?.offset, readFileSync(join(dir, 'a.log')).length)
    assert.equal(checkpoints(join(dir, 'state'))[0]?.line, 7)
  })

  test('a last line without newline is processed at the end of the file', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 2) + accessLine(2).trimEnd())
    assert.deepEqual((await run(dir, ['a.log'])).acked, ids(0, 3))
  })

  test('a dry run neither reads nor writes checkpoints', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 5))
    await run(dir, ['a.log'])
    const sink = await run(dir, ['a.log'], {}, { 'dry-run': true })
    assert.deepEqual(sink.acked, ids(0, 5), 'all lines again, whatever the checkpoint says')
    const dry = join(dir, 'dry-state')
    await forward({ config: testConfig('read', ['a.log'], dry, { 'dry-run': true }), logger: silentLogger(), sink: createTestSink(), cwd: dir })
    assert.equal(existsSync(dry), false)
  })

  test('stdin has no checkpoint', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 2))
    const sink = await run(dir, ['-', 'a.log'], {}, {}, { stdin: Readable.from([accessLines(10, 13)]) })
    assert.deepEqual(sink.acked, [...ids(10, 13), ...ids(0, 2)])
    assert.deepEqual(checkpoints(join(dir, 'state')).map((e) => e.path), [join(dir, 'a.log')])
  })

  test('gzip on standard input is decompressed (cat access.log.2.gz | matomo-forward read -), whatever the chunking', async (t) => {
    const dir = tmpDir(t)
    const gz = gzipSync(accessLines(0, 500))
    // The magic bytes arrive one by one, then the rest in odd pieces.
    const pieces = [gz.subarray(0, 1), gz.subarray(1, 2), gz.subarray(2, 777), gz.subarray(777)]
    const sink = await run(dir, ['-'], {}, {}, { stdin: Readable.from(pieces) })
    assert.deepEqual(sink.acked, ids(0, 500))
    const plain = await run(dir, ['-'], {}, {}, { stdin: Readable.from([Buffer.from('{'), Buffer.from(accessLines(0, 3).slice(1))]) })
    assert.deepEqual(plain.acked, ids(0, 3), 'plain text, even with a first chunk of one byte')
    const empty = await run(dir, ['-'], {}, {}, { stdin: Readable.from([]) })
    assert.deepEqual(empty.pushed, [])
  })

  test('a stop while standard input is open and idle ends the run at once (plain or gzip)', { timeout: 20_000 }, async (t) => {
    const dir = tmpDir(t)
    for (const gzip of [false, true]) {
      const stdin = new PassThrough()
      // One whole line, then nothing: the producer is alive but quiet (its pipe stays open).
      stdin.write(gzip ? gzipSync(accessLines(0, 1)).subarray(0, 30) : accessLines(0, 1))
      const sink = createTestSink()
      const controller = new AbortController()
      const running = forward({ config: testConfig('read', ['-'], join(dir, 'state')), logger: silentLogger(), sink, cwd: dir, signal: controller.signal, stdin })
      if (!gzip) await waitFor('the first line', () => sink.acked.length === 1)
      else await new Promise((resolve) => setTimeout(resolve, 200))
      controller.abort()
      await running
      assert.equal(stdin.destroyed, true, 'standard input is let go')
    }
  })

  test('a pattern that matches nothing is reported before anything is read', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 2))
    const sink = createTestSink()
    await assert.rejects(forward({ config: testConfig('read', ['a.log', 'b*.log'], join(dir, 'state')), logger: silentLogger(), sink, cwd: dir }),
      (err: Error & { code?: string }) => err.code === 'MF_ERR_SOURCE_NO_MATCH' && err.message.includes('b*.log'))
    assert.deepEqual(sink.pushed, [])
  })

  test('two runs on one state directory: the second is refused with MF_ERR_CHECKPOINT_LOCKED', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 5))
    const holding = createTestSink({ mode: 'manual' })
    const first = run(dir, ['a.log'], {}, {}, { sink: holding })
    await waitFor('the first run to push its hits', () => holding.pushed.length === 5)
    await assert.rejects(run(dir, ['a.log']), { code: 'MF_ERR_CHECKPOINT_LOCKED' })
    holding.ackAll()
    await first
  })

  test('abort: waits for in-flight hits up to the shutdown timeout, checkpoints only what was acknowledged', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 100))
    const sink = createTestSink({ mode: 'manual', capacity: 10 })
    const controller = new AbortController()
    const config = testConfig('read', ['a.log'], join(dir, 'state'), { 'shutdown-timeout-ms': 50 })
    const running = forward({ config, logger: silentLogger(), sink, cwd: dir, signal: controller.signal })
    await waitFor('the sink to saturate', () => sink.pushed.length >= 10)
    sink.ackFirst(4)
    await waitFor('the reader to refill the sink', () => sink.pending.length >= 10)
    controller.abort()
    const summary = await running
    assert.equal(summary.hitsPendingAtExit, sink.pending.length)
    assert.ok(summary.hitsPendingAtExit > 0)
    assert.equal(checkpoints(join(dir, 'state'))[0]?.offset, Buffer.byteLength(accessLines(0, 4)))
    const again = await run(dir, ['a.log'])
    assert.deepEqual(again.acked, ids(4, 100))
  })

  test('checkpoint writes that keep failing stop the run with MF_ERR_CHECKPOINT_WRITE instead of stalling it', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'access.log'), accessLines(0, 3000))
    mkdirSync(join(dir, 'state', CHECKPOINT_FILE + '.tmp'), { recursive: true }) // every write fails (EISDIR)
    const sink = createTestSink({ mode: 'lanes', batchSize: 5, concurrency: 1 })
    const started = Date.now()
    await assert.rejects(
      forward({ config: testConfig('read', ['access.log'], join(dir, 'state'), { 'batch-size': 5, concurrency: 1 }), logger: silentLogger(), sink, cwd: dir, checkpointIntervalMs: 50, checkpointGiveUpMs: 300 }),
      { code: 'MF_ERR_CHECKPOINT_WRITE' })
    assert.ok(Date.now() - started < 20_000, 'stopped, not stalled')
    // Nothing durable: at most the in-flight bound (concurrency × batch size) was acknowledged, and is sent again.
    assert.ok(sink.acked.length <= 5, `${sink.acked.length} acknowledged`)
    rmdirSync(join(dir, 'state', CHECKPOINT_FILE + '.tmp'))
    assert.deepEqual((await run(dir, ['access.log'])).acked, ids(0, 3000))
  })

  test('a deleted state directory is created again; files removed since are no problem', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'a.log'), accessLines(0, 2))
    await run(dir, ['a.log'])
    rmSync(join(dir, 'state'), { recursive: true })
    assert.deepEqual((await run(dir, ['a.log'])).acked, ids(0, 2))
  })
})
