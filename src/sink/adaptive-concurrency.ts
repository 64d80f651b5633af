// AIMD limit on bulk requests in flight (after Vector's adaptive request concurrency), enforced with p-limit.
import pLimit from 'p-limit'
import type { Config } from '../config/types.js'

/** --concurrency auto: the same limiter, with this ceiling. */
export const AUTO_CONCURRENCY_CEILING = 16

/**
 * Most hits in flight at once (concurrency × batch size; the ceiling for --concurrency auto): the bound on
 * duplicates after a crash (README "Delivery guarantee").
 */
export function inFlightLimit (config: Pick<Config, 'concurrency' | 'batchSize'>): number {
  const concurrency = config.concurrency === 'auto' ? AUTO_CONCURRENCY_CEILING : config.concurrency
  return concurrency * config.batchSize
}

/** An answer this much slower than the recent average means Matomo is saturating: no increase. */
const SLOW_FACTOR = 1.5
const EWMA_WEIGHT = 0.3
/** Clean answers in a row before the limit may probe again the level that last failed. */
const PROBE_AFTER_CLEAN = 50

export interface TimedResult<T> {
  readonly value: T
  readonly rttMs: number
  /** Other requests were waiting for a slot when this one finished: raising the limit would be used. */
  readonly demand: boolean
}

export interface AdaptiveConcurrency {
  /** Runs `fn` when a slot is free; `queued`: it had to wait for one (another request's answer freed it). */
  run: <T>(fn: (queued: boolean) => Promise<T>) => Promise<TimedResult<T>>
  /** A clean answer (delivered): raise the limit by one if it was fast and slots were wanted. */
  succeeded: (rttMs: number, demand: boolean) => void
  /** A 5xx, timeout, 429 or connection failure: halve the limit (at least 1) before the retry. */
  overloaded: () => void
  readonly limit: number
  readonly ceiling: number
}

/**
 * Starts at `initial` (1) in flight and never exceeds `ceiling`. Measured on a real Matomo 5.1.2: a quiet
 * database deadlocks on its first concurrent bulk requests, and at high concurrency a failed batch can be
 * partly committed (a whole-batch retry then duplicates hits). So: one at a time first; while answers are fast
 * and clean, double per answer (slow start, as TCP) until the first sign of trouble, then one step per answer;
 * back off multiplicatively on trouble.
 */
export function createAdaptiveConcurrency (ceiling: number, initial = 1, now: () => number = () => performance.now()): AdaptiveConcurrency {
  const limiter = pLimit(Math.max(1, Math.min(initial, ceiling)))
  let averageRttMs: number | undefined
  /** The level at which Matomo last said "too much" (5xx, timeout): not reached again until it has been calm. */
  let failedAt = Number.POSITIVE_INFINITY
  let cleanStreak = 0
  let slowStart = true

  return {
    async run<T> (fn: (queued: boolean) => Promise<T>): Promise<TimedResult<T>> {
      const queued = limiter.activeCount >= limiter.concurrency || limiter.pendingCount > 0
      return await limiter(async () => {
        const started = now()
        const value = await fn(queued)
        const rttMs = now() - started
        const demand = limiter.pendingCount > 0
        return { value, rttMs, demand }
      })
    },
    succeeded (rttMs, demand) {
      const fast = averageRttMs === undefined || rttMs <= averageRttMs * SLOW_FACTOR
      averageRttMs = averageRttMs === undefined ? rttMs : averageRttMs + EWMA_WEIGHT * (rttMs - averageRttMs)
      cleanStreak++
      // Without this memory, AIMD climbs straight back into the level that failed and oscillates through
      // 500s (on a real Matomo: deadlocks, and duplicates from partly committed batches).
      if (cleanStreak >= PROBE_AFTER_CLEAN) failedAt = Number.POSITIVE_INFINITY
      // Slow start (as TCP's) until Matomo first says "too much": double, then one step at a time.
      const next = Math.min(ceiling, failedAt - 1, slowStart ? limiter.concurrency * 2 : limiter.concurrency + 1)
      if (fast && demand && next > limiter.concurrency) limiter.concurrency = next
    },
    overloaded () {
      slowStart = false
      failedAt = Math.min(failedAt, limiter.concurrency)
      cleanStreak = 0
      limiter.concurrency = Math.max(1, Math.floor(limiter.concurrency / 2))
    },
    get limit () {
      return limiter.concurrency
    },
    ceiling
  }
}
