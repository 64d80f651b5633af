// The Matomo sink against the fake Matomo: batching, lanes, back pressure, acks, rejects, retries, stops.
import assert from 'node:assert/strict'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { describe, test, type TestContext } from 'node:test'
import { SourceProgress } from '../../../src/ack/source-progress.js'
import { isForwardError } from '../../../src/errors.js'
import { createLogger } from '../../../src/log.js'
import type { TrackingParams } from '../../../src/mapping/tracking-params.js'
import { createRejectWriter } from '../../../src/output/reject-file.js'
import { createAdaptiveConcurrency, type AdaptiveConcurrency } from '../../../src/sink/adaptive-concurrency.js'
import { createMatomoSink, describeRange, type DeliveryTuning, type MatomoSinkConfig } from '../../../src/sink/matomo-sink.js'
import type { Hit } from '../../../src/sink/sink.js'
import { Summary } from '../../../src/summary.js'
import { startFakeMatomo, SUPER_TOKEN, WRITE_TOKEN, type FakeMatomo, type FakeMatomoOptions } from '../../helpers/fake-matomo.js'
import { tmpDir } from '../../helpers/tmp.js'
import { waitFor } from '../../helpers/wait-for.js'

const NOW_S = Math.floor(Date.now() / 1000)

function params (n: number, visitor = n % 7): TrackingParams {
  return { idsite: 1, rec: 1, url: `https://www.example.org/p/${n}`, action_name: `/p/${n}`, ua: `agent-${visitor}`, cip: `203.0.113.${visitor}`, cdt: NOW_S - 60 }
}

interface Setup {
  matomo: FakeMatomo
  sink: ReturnType<typeof createMatomoSink>
  summary: Summary
  progress: SourceProgress
  logs: string[]
  rejectPath: string
  closeRejects: () => Promise<void>
  push: (count: number, make?: (n: number) => TrackingParams) => Hit[]
}

async function setup (t: TestContext, config: Partial<MatomoSinkConfig> = {}, fake: FakeMatomoOptions = {}, tuning: DeliveryTuning = {}, signal?: AbortSignal): Promise<Setup> {
  const matomo = await startFakeMatomo(fake)
  t.after(async () => { await matomo.close() })
  const dir = tmpDir(t)
  const logs: string[] = []
  const logger = createLogger('warn', new Writable({ write (chunk, _enc, cb) { logs.push(String(chunk)); cb() } }))
  const summary = new Summary()
  const rejectPath = join(dir, 'rejects.ndjson')
  const rejects = createRejectWriter(rejectPath)
  t.after(async () => { await rejects.close().catch(() => undefined) })
  const sink = createMatomoSink({
    config: {
      command: 'read',
      matomoUrl: matomo.url,
      accessToken: SUPER_TOKEN,
      caFile: undefined,
      insecure: false,
      batchSize: 10,
      batchMaxBytes: 512 * 1024,
      flushIntervalMs: 1000,
      concurrency: 2,
      requestTimeoutMs: 5000,
      maxRetries: 3,
      retryMaxDelayMs: 10,
      shutdownTimeoutMs: 1000,
      ...config
    },
    summary,
    rejects,
    logger,
    signal,
    tuning: { retryBaseDelayMs: 0, ...tuning }
  })
  const progress = new SourceProgress('access.log')
  let line = 0
  let offset = 0
  const push = (count: number, make: (n: number) => TrackingParams = (n) => params(n)): Hit[] => {
    const hits: Hit[] = []
    for (let i = 0; i < count; i++) {
      line++
      const hit: Hit = { params: make(line), progress, ticket: progress.hold(offset, offset + 100), lineNo: line, raw: `{"line":${line}}` }
      offset += 100
      hits.push(hit)
      sink.push(hit)
    }
    return hits
  }
  return { matomo, sink, summary, progress, logs, rejectPath, push, closeRejects: async () => { await rejects.close() } }
}

function pathsOf (matomo: FakeMatomo): string[] {
  return matomo.hits.map((h) => String(h.params.action_name))
}

describe('createMatomoSink: sending', () => {
  test('sends batches of --batch-size to ?queuedtracking=0 with our User-Agent and the token in the body', async (t) => {
    const s = await setup(t, { batchSize: 10, concurrency: 1 })
    s.push(25)
    await s.sink.end()
    assert.equal(s.matomo.hits.length, 25)
    const bulk = s.matomo.requests.filter((r) => r.path === '/matomo.php')
    assert.deepEqual(bulk.map((r) => (JSON.parse(r.body) as { requests: unknown[] }).requests.length), [10, 10, 5])
    for (const r of bulk) {
      assert.equal(r.query.queuedtracking, '0')
      assert.match(String(r.headers['user-agent']), /^matomo-forward\/\d/)
      const body = JSON.parse(r.body) as Record<string, unknown>
      assert.equal(body.token_auth, SUPER_TOKEN)
      assert.equal('send_image' in body, false)
      assert.equal(r.query.token_auth, undefined)
    }
    assert.equal(s.progress.committed, 2500)
    assert.deepEqual([s.summary.hitsSent, s.summary.hitsTracked, s.summary.hitsInvalid, s.summary.batches, s.summary.retries], [25, 25, 0, 3, 0])
  })

  test('counts requests in flight and calls onQuiet when the last one is answered', async (t) => {
    const s = await setup(t, { batchSize: 10, concurrency: 2 }, {}, { concurrency: createAdaptiveConcurrency(2, 2) })
    const seen: number[] = []
    s.sink.onQuiet = () => { seen.push(s.sink.inFlight ?? -1) }
    assert.equal(s.sink.inFlight, 0)
    s.push(20)
    await waitFor('two requests in flight', () => s.sink.inFlight === 2 || s.matomo.hits.length > 0)
    await s.sink.end()
    assert.equal(s.sink.inFlight, 0)
    assert.ok(seen.length >= 1, 'told at least once')
    assert.ok(seen.every((n) => n === 0), `onQuiet only with nothing in flight: ${seen.join(',')}`)
  })

  test('with --concurrency auto, new visitors fill one lane more than the current limit; a fixed level fills every lane', async (t) => {
    const sizes = async (concurrency: 'auto' | number): Promise<number[]> => {
      const s = await setup(t, { batchSize: 10, concurrency }, {}, { concurrency: createAdaptiveConcurrency(16, 1) })
      s.push(40, (n) => params(n, n)) // 40 visitors, one hit each, pushed before any answer (limit 1)
      await s.sink.end()
      assert.equal(s.matomo.hits.length, 40)
      return s.matomo.requests.filter((r) => r.path === '/matomo.php').map((r) => (JSON.parse(r.body) as { requests: unknown[] }).requests.length)
    }
    // Two lanes (limit 1 + 1) take the 40 visitors: about four full batches instead of sixteen small ones.
    const auto = await sizes('auto')
    assert.ok(auto.length <= 5, auto.join(','))
    const fixed = await sizes(16)
    assert.equal(fixed.length, 16)
    assert.ok(fixed.every((n) => n <= 3), fixed.join(','))
  })

  test('closes a batch before it would pass --batch-max-bytes', async (t) => {
    const s = await setup(t, { batchSize: 1000, batchMaxBytes: 4096, concurrency: 1 })
    s.push(60)
    await s.sink.end()
    const sizes = s.matomo.requests.map((r) => Buffer.byteLength(r.body))
    assert.ok(sizes.length > 1, `${sizes.length} requests`)
    assert.ok(sizes.every((n) => n <= 4096), sizes.join(','))
    assert.equal(s.matomo.hits.length, 60)
  })

  test('an old batch keeps filling while closed batches still wait to be sent: the age flush is set again', async (t) => {
    const timers: Array<{ fn: () => void, ms: number }> = []
    const s = await setup(t, { batchSize: 5, flushIntervalMs: 750, concurrency: 1 }, { latencyMs: 300 }, {
      setTimer: (fn, ms) => { const timer = { fn, ms }; timers.push(timer); return timer },
      clearTimer: () => undefined
    })
    // One lane: a batch of 5 in flight, a batch of 5 queued behind it, 2 hits in the open batch.
    s.push(12, (n) => params(n, 1))
    await new Promise((resolve) => setImmediate(resolve))
    const openTimer = timers[timers.length - 1]!
    assert.equal(timers.length, 3)
    openTimer.fn()
    assert.equal(timers.length, 4, 'the open batch\'s timer was set again instead of closing it')
    s.push(3, (n) => params(n, 1))
    await s.sink.end()
    assert.deepEqual(s.matomo.requests.map((r) => (JSON.parse(r.body) as { requests: unknown[] }).requests.length), [5, 5, 5], 'the open batch filled up instead of going out with 2 hits')
  })

  test('sends a batch that is not full once its oldest hit is --flush-interval-ms old', async (t) => {
    const timers: Array<{ fn: () => void, ms: number, cleared: boolean }> = []
    const s = await setup(t, { batchSize: 100, flushIntervalMs: 750, concurrency: 1 }, {}, {
      setTimer: (fn, ms) => { const timer = { fn, ms, cleared: false }; timers.push(timer); return timer },
      clearTimer: (handle) => { (handle as { cleared: boolean }).cleared = true }
    })
    s.push(3)
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(s.matomo.bulkCount, 0)
    assert.equal(timers.length, 1)
    assert.equal(timers[0]!.ms, 750)
    timers[0]!.fn()
    await waitFor('the age flush to deliver and acknowledge 3 hits', () => s.progress.committed === 300)
    assert.equal(s.matomo.hits.length, 3)
    await s.sink.end()
  })

  test('keeps each visitor\'s hits in order across lanes, every hit exactly once', async (t) => {
    const s = await setup(t, { batchSize: 7, concurrency: 4 }, { latencyMs: 2 })
    s.push(400, (n) => params(n, n % 13))
    await s.sink.end()
    const seen = pathsOf(s.matomo)
    assert.equal(seen.length, 400)
    assert.equal(new Set(seen).size, 400)
    const byVisitor = new Map<string, number[]>()
    for (const hit of s.matomo.hits) {
      const key = String(hit.params.ua)
      const list = byVisitor.get(key) ?? []
      list.push(Number(String(hit.params.action_name).slice(3)))
      byVisitor.set(key, list)
    }
    for (const [visitor, order] of byVisitor) assert.deepEqual(order, [...order].sort((a, b) => a - b), `order of ${visitor}`)
    assert.ok(s.matomo.peakInFlight <= 4)
  })

  test('never has more requests in flight than --concurrency', async (t) => {
    const s = await setup(t, { batchSize: 5, concurrency: 2 }, { latencyMs: 5 })
    s.push(300, (n) => params(n, n % 50))
    await s.sink.end()
    assert.equal(s.matomo.hits.length, 300)
    assert.ok(s.matomo.peakInFlight <= 2, `peak ${s.matomo.peakInFlight}`)
    assert.equal(s.sink.concurrencyLimit, 2)
  })

  test('is saturated while more hits wait than lanes × batch size × 2, and drains', async (t) => {
    const s = await setup(t, { batchSize: 5, concurrency: 1 }, { latencyMs: 20 })
    s.push(10)
    assert.equal(s.sink.saturated, false)
    s.push(5)
    assert.equal(s.sink.saturated, true)
    await s.sink.drained()
    assert.equal(s.sink.saturated, false)
    await s.sink.end()
    assert.equal(s.matomo.hits.length, 15)
  })
})

describe('createMatomoSink: answers', () => {
  test('writes hits Matomo lists in invalid_indices to the reject file as matomo_invalid, and acks them', async (t) => {
    const s = await setup(t, { batchSize: 4, concurrency: 1 })
    s.matomo.enqueue({ kind: 'invalid_indices', indices: [1, 3] })
    s.push(4)
    await s.sink.end()
    await s.closeRejects()
    assert.equal(s.progress.committed, 400)
    assert.deepEqual([s.summary.hitsTracked, s.summary.hitsInvalid], [2, 2])
    const records = readFileSync(s.rejectPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.deepEqual(records.map((r) => [r.reason, r.line, r.offset, r.raw]), [['matomo_invalid', 2, 100, '{"line":2}'], ['matomo_invalid', 4, 300, '{"line":4}']])
  })

  test('counts invalid hits without indices, warns once why they cannot be identified, and acks them', async (t) => {
    const s = await setup(t, { batchSize: 3, concurrency: 1, accessToken: WRITE_TOKEN })
    s.matomo.enqueue({ kind: 'counts_only', invalid: [0] }, { kind: 'counts_only', invalid: [2] })
    s.push(6, (n) => ({ ...params(n), token_auth: WRITE_TOKEN }))
    await s.sink.end()
    assert.deepEqual([s.summary.hitsTracked, s.summary.hitsInvalid], [4, 2])
    assert.equal(s.progress.committed, 600)
    assert.equal(s.logs.filter((l) => l.includes('super user')).length, 1)
    assert.equal(existsSync(s.rejectPath), false)
  })

  test('stops with a token message when every batch is all invalid, and acks nothing', async (t) => {
    const s = await setup(t, { batchSize: 2, concurrency: 1, accessToken: '0'.repeat(32) })
    s.push(10)
    await assert.rejects(s.sink.end(), (err: unknown) => isForwardError(err) && err.code === 'MF_ERR_SINK_AUTH' && /expired/.test(err.message) && !err.message.includes('0'.repeat(32)))
    assert.equal(s.progress.committed, 0)
    assert.equal(s.summary.hitsInvalid, 6)
    assert.equal(s.matomo.bulkCount, 3)
  })

  test('releases held all-invalid batches once a later batch tracks hits', async (t) => {
    const s = await setup(t, { batchSize: 2, concurrency: 1, accessToken: WRITE_TOKEN })
    s.matomo.enqueue({ kind: 'counts_only', invalid: [0, 1] }, { kind: 'success' })
    s.push(4, (n) => ({ ...params(n), token_auth: WRITE_TOKEN }))
    await s.sink.end()
    assert.equal(s.progress.committed, 400)
  })

  for (const [name, answer, code] of [['a 403', 403, 'MF_ERR_SINK_REFUSED'], ['a 503 with no retries left', 503, 'MF_ERR_SINK_GAVE_UP']] as const) {
    test(`after a stop (${name}), a batch waiting for a request slot is not sent (to a Matomo refusing the token, one more failed login)`, async (t) => {
      const s = await setup(t, { batchSize: 3, concurrency: 2, maxRetries: 0 })
      s.matomo.enqueue({ kind: 'status', status: answer })
      // Two lanes; the limit starts at one request in flight, so the second batch waits for the first's answer.
      s.push(6, (n) => params(n, n % 2))
      await assert.rejects(s.sink.end(), (err: unknown) => isForwardError(err) && err.code === code)
      assert.equal(s.matomo.bulkCount, 1, `nothing sent after ${name}`)
      assert.equal(s.progress.committed, 0)
    })
  }

  test('never counts tracked + invalid < sent as success: stops, reports the line range, acks nothing', async (t) => {
    const s = await setup(t, { batchSize: 5, concurrency: 1 })
    s.matomo.enqueue({ kind: 'tracked_less', missing: 2 })
    s.push(5)
    await assert.rejects(s.sink.end(), (err: unknown) => isForwardError(err) && err.code === 'MF_ERR_SINK_UNACCOUNTED' && err.message.includes('access.log lines 1-5'))
    assert.equal(s.progress.committed, 0)
    assert.deepEqual([s.summary.hitsSent, s.summary.hitsTracked, s.summary.hitsUnaccounted], [5, 3, 2])
  })

  for (const [name, answer, code, phrase] of [
    ['a GIF', { kind: 'gif' }, 'MF_ERR_SINK_CONFIG', /QueuedTracking/],
    ['204', { kind: 'no_content' }, 'MF_ERR_SINK_CONFIG', /204/],
    ['an HTML 400', { kind: 'html_400' }, 'MF_ERR_SINK_CONFIG', /part of Matomo/],
    ['401', { kind: 'status', status: 401 }, 'MF_ERR_SINK_REFUSED', /user:password/],
    ['403', { kind: 'status', status: 403 }, 'MF_ERR_SINK_REFUSED', /403/]
  ] as const) {
    test(`stops on ${name} and acks nothing of that batch`, async (t) => {
      const s = await setup(t, { batchSize: 3, concurrency: 1 })
      s.matomo.enqueue({ kind: 'success' }, answer)
      s.push(6)
      await assert.rejects(s.sink.end(), (err: unknown) => isForwardError(err) && err.code === code && phrase.test(err.message))
      assert.equal(s.progress.committed, 300, 'the first batch was delivered and acknowledged')
      assert.equal(s.matomo.bulkCount, 2)
      assert.ok(s.logs.some((l) => /the batch that stopped the run holds .* lines 4-6/.test(l)), 'which lines: logged')
    })
  }

  test('splits a batch on 413, lowers the byte cap, and delivers everything in order', async (t) => {
    const s = await setup(t, { batchSize: 8, concurrency: 1 })
    s.matomo.enqueue({ kind: 'status', status: 413 })
    s.push(8, (n) => params(n, 1))
    await s.sink.end()
    assert.deepEqual(pathsOf(s.matomo), Array.from({ length: 8 }, (_, i) => `/p/${i + 1}`))
    assert.deepEqual(s.matomo.requests.map((r) => (JSON.parse(r.body) as { requests: unknown[] }).requests.length), [8, 4, 4])
    assert.equal(s.progress.committed, 800)
    assert.ok(s.logs.some((l) => l.includes('413')))
  })

  test('retries a 500 (rolled back, counts ignored), a reset and a timeout, and delivers each hit once', async (t) => {
    const s = await setup(t, { batchSize: 4, concurrency: 1, requestTimeoutMs: 300 })
    // The reset first, on a fresh connection: on a reused one it would look like a socket the server had dropped
    // while idle, which goes again at once without counting as a retry (bulk-request tests).
    s.matomo.enqueue({ kind: 'reset' }, { kind: 'error_500', tracked: 4 }, { kind: 'slow', delayMs: 1000 })
    s.push(4)
    await s.sink.end()
    assert.equal(s.matomo.hits.length, 4)
    assert.deepEqual([s.summary.hitsSent, s.summary.hitsTracked, s.summary.batches, s.summary.retries], [4, 4, 1, 3])
    assert.equal(s.progress.committed, 400)
  })

  test('honours Retry-After on 429', async (t) => {
    const delays: number[] = []
    const s = await setup(t, { batchSize: 2, concurrency: 1 }, {}, { sleep: async (ms) => { delays.push(ms) } })
    s.matomo.enqueue({ kind: 'retry_after', retryAfter: '3' })
    s.push(2)
    await s.sink.end()
    assert.deepEqual(delays, [3000])
    assert.equal(s.matomo.hits.length, 2)
  })

  test('read gives up after --max-retries; earlier batches stay delivered and acknowledged', async (t) => {
    const s = await setup(t, { batchSize: 2, concurrency: 1, maxRetries: 2 }, { script: ({ index }) => index === 0 ? undefined : { kind: 'error_500' } })
    s.push(4)
    await assert.rejects(s.sink.end(), (err: unknown) => isForwardError(err) && err.code === 'MF_ERR_SINK_GAVE_UP' && /3 attempts/.test(err.message) && err.message.includes('access.log lines 3-4'))
    assert.equal(s.progress.committed, 200)
    assert.equal(s.matomo.bulkCount, 4)
    assert.equal(s.summary.retries, 2)
  })

  test('tail keeps retrying past --max-retries and logs the failures', async (t) => {
    const s = await setup(t, { command: 'tail', batchSize: 2, concurrency: 1, maxRetries: 1 }, { script: ({ index }) => index < 6 ? { kind: 'error_500' } : undefined })
    s.push(2)
    await s.sink.end()
    assert.equal(s.matomo.hits.length, 2)
    assert.equal(s.summary.retries, 6)
    assert.ok(s.logs.filter((l) => l.includes('retry')).length >= 1)
  })

  test('lowers the number in flight on a 500 or a timeout before retrying, and reports clean answers', async (t) => {
    const events: string[] = []
    const real = createAdaptiveConcurrency(4)
    const spy: AdaptiveConcurrency = {
      run: async (fn) => { events.push('send'); return await real.run(fn) },
      succeeded: (rtt, demand) => { events.push('succeeded'); real.succeeded(rtt, demand) },
      overloaded: () => { events.push('overloaded'); real.overloaded() },
      get limit () { return real.limit },
      ceiling: 4
    }
    const s = await setup(t, { batchSize: 2, concurrency: 4, requestTimeoutMs: 200 }, {}, { concurrency: spy })
    s.matomo.enqueue({ kind: 'error_500' }, { kind: 'slow', delayMs: 1000 })
    s.push(2, (n) => params(n, 1))
    await s.sink.end()
    assert.deepEqual(events, ['send', 'overloaded', 'send', 'overloaded', 'send', 'succeeded'])
    assert.equal(s.matomo.hits.length, 2)
  })
})

describe('createMatomoSink: shutdown', () => {
  test('after a stop signal, still sends what is buffered', async (t) => {
    const controller = new AbortController()
    const s = await setup(t, { batchSize: 100, concurrency: 1 }, {}, {}, controller.signal)
    s.push(5)
    controller.abort()
    await s.sink.end()
    assert.equal(s.matomo.hits.length, 5)
    assert.equal(s.progress.committed, 500)
  })

  test('gives up on answers after --shutdown-timeout-ms, and acknowledges nothing unanswered', async (t) => {
    const controller = new AbortController()
    const s = await setup(t, { batchSize: 100, concurrency: 1, shutdownTimeoutMs: 100, requestTimeoutMs: 20_000 }, {}, {}, controller.signal)
    s.matomo.enqueue({ kind: 'slow', delayMs: 10_000 })
    s.push(3)
    controller.abort()
    await assert.rejects(s.sink.end(), (err: unknown) => isForwardError(err) && err.code === 'MF_ERR_SINK_STOPPED' && /3 hits/.test(err.message))
    assert.equal(s.progress.committed, 0)
  })
})

describe('describeRange', () => {
  test('names the lines of each source in a batch', () => {
    const a = new SourceProgress('a.log')
    const b = new SourceProgress('-')
    const hit = (progress: SourceProgress, lineNo: number): Hit => ({ params: {}, progress, ticket: progress.hold(0, 1), lineNo })
    assert.equal(describeRange([hit(a, 3), hit(a, 4), hit(a, 5), hit(b, 1)]), 'a.log lines 3-5, standard input line 1')
    // Lanes interleave visitors: a batch's lines are not every line of their range.
    assert.equal(describeRange([hit(a, 3), hit(a, 9), hit(a, 1593)]), 'a.log: 3 lines from 3 to 1593')
  })
})
