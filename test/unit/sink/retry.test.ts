// withRetries: full-jitter backoff, Retry-After floor, give-up, pass-through of fatal errors, abort, log gate.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { errors, isForwardError } from '../../../src/errors.js'
import { backoffDelay, createRetryLogGate, RetryableError, withRetries, type RetryInfo } from '../../../src/sink/retry.js'

function recorder (): { delays: number[], sleep: (ms: number) => Promise<void> } {
  const delays: number[] = []
  return { delays, sleep: async (ms) => { delays.push(ms) } }
}

describe('backoffDelay', () => {
  test('is uniform between 0 and the exponential step (full jitter), capped', () => {
    assert.equal(backoffDelay(0, 100, 10_000, () => 0.999), 99)
    assert.equal(backoffDelay(3, 100, 10_000, () => 0.5), 400)
    assert.equal(backoffDelay(3, 100, 10_000, () => 0), 0)
    assert.equal(backoffDelay(20, 100, 10_000, () => 0.999), 9990)
  })
  test('waits at least the Retry-After', () => {
    assert.equal(backoffDelay(0, 100, 10_000, () => 0.5, 7000), 7000)
    assert.equal(backoffDelay(10, 100, 10_000, () => 0.9, 10), 9000)
  })
})

describe('withRetries', () => {
  test('retries a RetryableError and resolves with the later success', async () => {
    const { delays, sleep } = recorder()
    let calls = 0
    const result = await withRetries(async () => {
      calls++
      if (calls < 3) throw new RetryableError('http_5xx', 'HTTP 500')
      return 'ok'
    }, { retries: 5, baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.5, sleep })
    assert.equal(result, 'ok')
    assert.equal(calls, 3)
    assert.deepEqual(delays, [50, 100])
  })

  test('gives up after `retries` retries with the last RetryableError', async () => {
    const { delays, sleep } = recorder()
    let calls = 0
    await assert.rejects(withRetries(async () => {
      calls++
      throw new RetryableError('timeout', `timeout ${calls}`)
    }, { retries: 2, baseDelayMs: 0, maxDelayMs: 10, sleep }), (err: unknown) => err instanceof RetryableError && err.message === 'timeout 3')
    assert.equal(calls, 3)
    assert.equal(delays.length, 2)
  })

  test('honours Retry-After', async () => {
    const { delays, sleep } = recorder()
    let calls = 0
    await withRetries(async () => {
      if (calls++ === 0) throw new RetryableError('http_429', 'HTTP 429', 3000)
      return 1
    }, { retries: 1, baseDelayMs: 10, maxDelayMs: 100, random: () => 0, sleep })
    assert.deepEqual(delays, [3000])
  })

  test('stops at once on any other error and rethrows it unchanged', async () => {
    let calls = 0
    const fatal = errors.MF_ERR_SINK_CONFIG('https://x/matomo.php', 'GIF')
    await assert.rejects(withRetries(async () => {
      calls++
      throw fatal
    }, { retries: 5, baseDelayMs: 0, maxDelayMs: 10 }), (err: unknown) => err === fatal)
    assert.equal(calls, 1)
  })

  test('retries forever with retries: Infinity (tail), with the delay capped', async () => {
    const { delays, sleep } = recorder()
    let calls = 0
    await withRetries(async () => {
      if (++calls < 40) throw new RetryableError('network', 'ECONNREFUSED')
      return 'up again'
    }, { retries: Number.POSITIVE_INFINITY, baseDelayMs: 100, maxDelayMs: 5000, random: () => 0.999, sleep })
    assert.equal(delays.length, 39)
    assert.ok(delays.every((d) => d <= 5000))
    assert.equal(delays.at(-1), 4995)
  })

  test('an abort stops the waiting and further attempts', async () => {
    const controller = new AbortController()
    const stop = errors.MF_ERR_SINK_STOPPED(1, 'test')
    let calls = 0
    const run = withRetries(async () => {
      calls++
      throw new RetryableError('network', 'down')
    }, { retries: Number.POSITIVE_INFINITY, baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 1, signal: controller.signal })
    setImmediate(() => { controller.abort(stop) })
    await assert.rejects(run, (err: unknown) => isForwardError(err) && err.code === 'MF_ERR_SINK_STOPPED')
    assert.equal(calls, 1)
  })

  test('reports each retry with its delay', async () => {
    const infos: RetryInfo[] = []
    let calls = 0
    await withRetries(async () => {
      if (++calls < 3) throw new RetryableError('http_5xx', 'HTTP 500')
      return 1
    }, { retries: 3, baseDelayMs: 10, maxDelayMs: 15, random: () => 0.5, sleep: async () => {}, onRetry: (i) => infos.push(i) })
    assert.deepEqual(infos.map((i) => [i.attempt, i.delayMs, i.capped]), [[1, 5, false], [2, 7, true]])
  })
})

describe('createRetryLogGate', () => {
  const info = (attempt: number, capped: boolean, reason: RetryInfo['reason'] = 'network'): RetryInfo => ({ attempt, reason, message: '', delayMs: 1, retriesLeft: Infinity, capped })
  test('logs every failure while the backoff grows, then every tenth at the ceiling or when the reason changes', () => {
    const gate = createRetryLogGate(10)
    const logged: number[] = []
    for (let a = 1; a <= 30; a++) if (gate(info(a, a > 5))) logged.push(a)
    assert.deepEqual(logged, [1, 2, 3, 4, 5, 15, 25])
    assert.equal(gate(info(31, true, 'http_5xx')), true)
  })
})
