// The Matomo sink under the durable gate's send budget: never more than the bound sent and not durable, never stuck.
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import fc from 'fast-check'
import { SourceProgress } from '../../src/ack/source-progress.js'
import { createDurableGate } from '../../src/checkpoint/durable-gate.js'
import { createLogger } from '../../src/log.js'
import type { BulkClient, HttpAnswer } from '../../src/sink/bulk-request.js'
import { createMatomoSink } from '../../src/sink/matomo-sink.js'
import type { Hit } from '../../src/sink/sink.js'
import { Summary } from '../../src/summary.js'

interface Scenario {
  concurrency: number
  batchSize: number
  /** Visitor of each hit: skewed draws make some lanes fill much faster than others. */
  visitors: number[]
  /** Which of two sources each hit comes from (tail follows several files at once). */
  sources: number[]
  /** Event-loop turns each request takes, by request number (cycled). */
  delays: number[]
  /** Turns a checkpoint write takes, by write number (cycled). */
  writeDelays: number[]
}

const scenario = fc.record({
  concurrency: fc.integer({ min: 1, max: 4 }),
  batchSize: fc.integer({ min: 1, max: 8 }),
  visitors: fc.oneof(
    fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 40 })), { minLength: 1, maxLength: 300 }),
    // One busy visitor and rare others: a rare visitor's open batch holds the checkpoint back while the busy lane fills.
    fc.array(fc.oneof({ weight: 20, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 300 })
  ),
  sources: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 20 }),
  delays: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 10 }),
  writeDelays: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 10 })
})

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve))
}

async function play (s: Scenario): Promise<{ maxHeld: number, limit: number, acked: number, total: number }> {
  const limit = s.concurrency * s.batchSize
  let requests = 0
  const seen = { gate: undefined as ReturnType<typeof createDurableGate> | undefined }
  let maxHeld = 0
  const client: BulkClient = {
    endpoint: { display: 'http://127.0.0.1/matomo.php' } as BulkClient['endpoint'],
    sendBulk: async (body: Buffer | string): Promise<HttpAnswer> => {
      maxHeld = Math.max(maxHeld, seen.gate?.held ?? 0)
      await turns(s.delays[requests++ % s.delays.length] as number)
      const count = (JSON.parse(body.toString()) as { requests: unknown[] }).requests.length
      return { status: 200, contentType: 'application/json', body: JSON.stringify({ status: 'success', tracked: count, invalid: 0 }), retryAfter: undefined, elapsedMs: 1 }
    },
    callApi: async () => { throw new Error('not used') },
    close: async () => undefined
  }
  const sink = createMatomoSink({
    config: {
      command: 'read',
      matomoUrl: 'http://127.0.0.1/matomo.php',
      accessToken: undefined,
      caFile: undefined,
      insecure: false,
      batchSize: s.batchSize,
      batchMaxBytes: 512 * 1024,
      flushIntervalMs: 60_000,
      concurrency: s.concurrency,
      requestTimeoutMs: 5000,
      maxRetries: 0,
      retryMaxDelayMs: 10,
      shutdownTimeoutMs: 1000
    },
    summary: new Summary(),
    rejects: undefined,
    logger: createLogger('error', new Writable({ write (_c, _e, cb) { cb() } })),
    client
  })
  const gate = createDurableGate(sink, limit)
  seen.gate = gate
  const durableGate = gate
  assert.equal(gate.countsPushes, false, 'the Matomo sink schedules by budget')
  // A checkpoint writer stand-in: each move of a position is written after a few turns, then announced.
  const sources = [new SourceProgress('a.log'), new SourceProgress('b.log')]
  let writes = 0
  for (const progress of sources) {
    progress.onCommit = () => {
      const offset = progress.committed
      void turns(s.writeDelays[writes++ % s.writeDelays.length] as number).then(() => { durableGate.durable(progress, offset) })
    }
  }
  const offsets = [0, 0]
  let acked = 0
  for (let i = 0; i < s.visitors.length; i++) {
    const which = s.sources[i % s.sources.length] as number
    const progress = sources[which] as SourceProgress
    const start = offsets[which] as number
    offsets[which] = start + 10
    const ticket = progress.hold(start, start + 10, i + 1)
    const hit: Hit = { params: { idsite: 1, rec: 1, url: `https://example.org/${i}`, ua: `ua-${String(s.visitors[i])}` }, progress, ticket, lineNo: i + 1 }
    gate.push(hit)
    if (gate.saturated) await gate.drained()
    if (i % 7 === 0) await turns(1)
  }
  // end() must resolve: a stuck scheduler would hang here (the test's timeout reports it).
  await gate.end()
  for (const progress of sources) if (progress.outstanding === 0) acked++
  return { maxHeld, limit, acked, total: sources.length }
}

test('sent-but-not-durable hits never exceed concurrency × batch size, and every hit is delivered (no deadlock)', { timeout: 120_000 }, async () => {
  await fc.assert(fc.asyncProperty(scenario, async (s) => {
    const result = await play(s)
    assert.ok(result.maxHeld <= result.limit, `held ${result.maxHeld} > limit ${result.limit}`)
    assert.equal(result.acked, result.total, 'every hit of every source acknowledged')
  }), { numRuns: 150 })
})

test('a rare visitor\'s open batch is closed with the busy lane\'s, so the checkpoint is never held back by it', { timeout: 20_000 }, async () => {
  // ua-1 and ua-0 fall in different lanes of two: the first hit would stay alone in its open batch while the busy lane fills.
  const visitors = [1, ...Array.from({ length: 40 }, () => 0)]
  const result = await play({ concurrency: 2, batchSize: 4, visitors, sources: [0], delays: [1], writeDelays: [1] })
  assert.ok(result.maxHeld <= result.limit)
  assert.equal(result.acked, result.total)
})
