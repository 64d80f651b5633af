// Checkpoint writer: records acknowledged positions at once, fsyncs rejects first, tells the gate what is durable.
import assert from 'node:assert/strict'
import { mkdirSync, rmdirSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import { SourceProgress } from '../../../src/ack/source-progress.js'
import { createLogger } from '../../../src/log.js'
import { CHECKPOINT_FILE, CheckpointStore, readStoredState } from '../../../src/checkpoint/store.js'
import { createCheckpointWriter, WRITE_DEFER_MAX_MS, type TrackedFile } from '../../../src/checkpoint/writer.js'
import type { RejectWriter } from '../../../src/output/reject-file.js'
import { identityOf } from '../../../src/sources/fingerprint.js'
import { silentLogger } from '../../helpers/config.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait-for.js'

/** The offset a restart would resume from (checkpoints.json or the journal, whichever is newer). */
function onDisk (dir: string): number | undefined {
  return readStoredState(dir).data?.sources[0]?.offset
}

describe('createCheckpointWriter', () => {
  test('an acknowledgement that moves a position is written without waiting for the interval', async (t) => {
    const dir = tmpDir(t)
    const store = await CheckpointStore.open(dir)
    const durable: number[] = []
    const writer = createCheckpointWriter({ store, rejects: undefined, logger: silentLogger(), intervalMs: 60_000, onDurable: (_p, offset) => { durable.push(offset) } })
    writer.start()
    const progress = new SourceProgress('a.log', 0)
    const file: TrackedFile = { identity: identityOf({ dev: 1n, ino: 2n }, Buffer.from('x')), path: 'a.log', progress }
    writer.track(file)
    const first = progress.hold(0, 10, 1)
    const second = progress.hold(10, 20, 2)
    progress.ack(second)
    progress.ack(first)
    // onDurable runs after the write returns, so it is the later of the two events: wait for it.
    await waitFor('the write announced durable', () => durable.includes(20))
    assert.equal(onDisk(dir), 20)
    await writer.stop()
    await store.close()
  })

  test('while requests are in flight, acknowledgements wait for quiet() or WRITE_DEFER_MAX_MS, then one write covers them', async (t) => {
    const dir = tmpDir(t)
    const store = await CheckpointStore.open(dir)
    const durable: number[] = []
    let inFlight = 2
    const writer = createCheckpointWriter({ store, rejects: undefined, logger: silentLogger(), intervalMs: 60_000, onDurable: (_p, offset) => { durable.push(offset) }, deferWhile: () => inFlight > 0 })
    writer.start()
    t.after(async () => { await writer.stop(); await store.close() })
    const progress = new SourceProgress('a.log', 0)
    writer.track({ identity: identityOf({ dev: 1n, ino: 2n }, Buffer.from('x')), path: 'a.log', progress })
    const tickets = [progress.hold(0, 10, 1), progress.hold(10, 20, 2), progress.hold(20, 30, 3)]
    progress.ack(tickets[0]!)
    inFlight = 1
    progress.ack(tickets[1]!)
    await new Promise((resolve) => setTimeout(resolve, 5))
    assert.equal(onDisk(dir), undefined, 'nothing written while answers are still coming')
    inFlight = 0
    writer.quiet()
    await waitFor('the write after quiet()', () => durable.includes(20))
    assert.deepEqual(durable, [20], 'one write for both acknowledgements')
    // Answers that keep coming (never quiet) are still written within WRITE_DEFER_MAX_MS.
    inFlight = 1
    const started = performance.now()
    progress.ack(tickets[2]!)
    await waitFor('the deferred write', () => durable.includes(30))
    assert.ok(performance.now() - started >= WRITE_DEFER_MAX_MS - 2, 'not written before the deferral ran out')
    assert.equal(onDisk(dir), 30)
  })

  test('a failing write is logged once, announces nothing durable, gives up after giveUpMs, and is retried until it works', async (t) => {
    const dir = tmpDir(t)
    const store = await CheckpointStore.open(dir)
    const logs: string[] = []
    const logger = createLogger('info', new Writable({ write (chunk, _enc, cb) { logs.push(String(chunk)); cb() } }))
    const durable: number[] = []
    const gaveUp: Array<{ err: unknown, at: number }> = []
    const writer = createCheckpointWriter({ store, rejects: undefined, logger, intervalMs: 30, onDurable: (_p, offset) => { durable.push(offset) }, giveUpMs: 120, onGiveUp: (err) => { gaveUp.push({ err, at: performance.now() }) } })
    t.after(async () => { await writer.stop().catch(() => undefined); await store.close() })
    mkdirSync(join(dir, CHECKPOINT_FILE + '.tmp')) // the temp file cannot be opened for writing (EISDIR)
    writer.start()
    const progress = new SourceProgress('a.log', 0)
    writer.track({ identity: identityOf({ dev: 1n, ino: 2n }, Buffer.from('x')), path: 'a.log', progress })
    progress.ack(progress.hold(0, 10, 1))
    await waitFor('the failure logged', () => logs.some((l) => l.includes('cannot write checkpoint')))
    const firstFailure = performance.now()
    await waitFor('the writer giving up', () => gaveUp.length > 0)
    assert.ok(gaveUp[0]!.at - firstFailure >= 80, `gave up ${gaveUp[0]!.at - firstFailure} ms after the first failure (giveUpMs 120)`)
    assert.equal((gaveUp[0]!.err as { code?: string }).code, 'MF_ERR_CHECKPOINT_WRITE')
    await new Promise((resolve) => setTimeout(resolve, 100)) // more retries by the timer
    assert.equal(gaveUp.length, 1, 'told once')
    assert.equal(logs.filter((l) => l.includes('cannot write checkpoint')).length, 1, 'logged once, not at every retry')
    assert.equal(durable.length, 0, 'nothing is announced durable while writes fail')
    assert.equal(onDisk(dir), undefined)
    rmdirSync(join(dir, CHECKPOINT_FILE + '.tmp'))
    await waitFor('the retried write', () => durable.includes(10))
    assert.equal(onDisk(dir), 10)
    assert.ok(logs.some((l) => l.includes('checkpoint writes work again')))
  })

  test('flushes the reject file before a checkpoint that covers rejected lines', async (t) => {
    const dir = tmpDir(t)
    const store = await CheckpointStore.open(dir)
    const order: string[] = []
    const rejects: RejectWriter = {
      write: () => undefined,
      flush: async () => { order.push(`rejects flushed, checkpoint at ${String(onDisk(dir))}`) },
      close: async () => undefined
    }
    const writer = createCheckpointWriter({ store, rejects, logger: silentLogger() })
    const progress = new SourceProgress('a.log', 0)
    writer.track({ identity: identityOf({ dev: 1n, ino: 2n }, Buffer.from('x')), path: 'a.log', progress })
    progress.lineDone(30, 3)
    await writer.flush()
    assert.deepEqual(order, ['rejects flushed, checkpoint at undefined'])
    assert.equal(onDisk(dir), 30)
    await writer.flush()
    assert.equal(order.length, 1, 'nothing changed: neither a flush nor a write')
    await writer.stop()
    await store.close()
  })
})
