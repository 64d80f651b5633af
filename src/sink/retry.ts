// Retries one batch with p-retry: exponential backoff with full jitter, Retry-After honoured, abortable.
import pRetry, { AbortError } from 'p-retry'
import type { RetryReason } from './classify.js'

/** Thrown by an attempt that should be tried again (the batch was not stored). */
export class RetryableError extends Error {
  readonly reason: RetryReason
  readonly retryAfterMs: number | undefined

  constructor (reason: RetryReason, message: string, retryAfterMs?: number) {
    super(message)
    this.name = 'RetryableError'
    this.reason = reason
    this.retryAfterMs = retryAfterMs
  }
}

export interface RetryInfo {
  /** The attempt that failed, from 1. */
  readonly attempt: number
  readonly reason: RetryReason
  readonly message: string
  /** The wait before the next attempt. */
  readonly delayMs: number
  /** Retries still allowed (Infinity for tail). */
  readonly retriesLeft: number
  /** True once the backoff ceiling is reached: further waits no longer grow. */
  readonly capped: boolean
}

export interface RetryOptions {
  /** Retries after the first attempt: --max-retries for read, Infinity for tail. */
  readonly retries: number
  /** The first backoff step (p-retry's minTimeout); 0 in tests so they do not sleep. @default 500 */
  readonly baseDelayMs?: number
  /** --retry-max-delay-ms: the backoff never waits longer (Retry-After excepted). */
  readonly maxDelayMs: number
  /** Random source in [0, 1) for the jitter. @default Math.random */
  readonly random?: () => number
  /** Aborting stops waits and further attempts (not an attempt in flight); the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined
  /** Called once per failed attempt that will be retried, before the wait. */
  readonly onRetry?: (info: RetryInfo) => void
  /** Injectable wait (tests record delays instead of sleeping). */
  readonly sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>
}

export const DEFAULT_BASE_DELAY_MS = 500

/**
 * Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): a uniform wait between 0 and the
 * exponential step, so that lanes failing together do not retry together. A Retry-After is a floor.
 */
export function backoffDelay (retryIndex: number, baseDelayMs: number, maxDelayMs: number, random: () => number, retryAfterMs?: number): number {
  const step = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(retryIndex, 30))
  const jittered = Math.floor(random() * step)
  return retryAfterMs === undefined ? jittered : Math.max(jittered, retryAfterMs)
}

/**
 * Runs `attempt` until it resolves. A RetryableError is retried (up to `retries` times); any other error stops
 * at once and is rethrown as is. When retries run out, the last RetryableError is thrown.
 */
export async function withRetries<T> (attempt: (attemptNumber: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const base = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS
  const random = options.random ?? Math.random
  const sleep = options.sleep ?? abortableSleep
  const signal = options.signal
  return await pRetry(async (attemptNumber) => {
    // Not p-retry's own `signal`: it would discard an answer that arrives after the abort, and an answered
    // batch must be acknowledged. The signal only stops waits and new attempts.
    if (signal?.aborted === true) throw new AbortError(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)))
    try {
      return await attempt(attemptNumber)
    } catch (err) {
      if (err instanceof RetryableError) throw err
      // p-retry rethrows AbortError's originalError: the ForwardError reaches the caller unchanged.
      throw new AbortError(err instanceof Error ? err : new Error(String(err)))
    }
  }, {
    retries: options.retries,
    // The waits are ours (full jitter, Retry-After), taken in onFailedAttempt; p-retry adds none.
    minTimeout: 0,
    factor: 1,
    onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft <= 0 || !(error instanceof RetryableError)) return
      const retryIndex = attemptNumber - 1
      const delayMs = backoffDelay(retryIndex, base, options.maxDelayMs, random, error.retryAfterMs)
      const capped = base * 2 ** Math.min(retryIndex, 30) >= options.maxDelayMs
      options.onRetry?.({ attempt: attemptNumber, reason: error.reason, message: error.message, delayMs, retriesLeft, capped })
      await sleep(delayMs, signal)
    }
  })
}

/**
 * Decides which retry failures are logged: every one while the backoff still grows, then (at the ceiling,
 * where tail can spend hours) only when the reason changes or every `every` failures.
 */
export function createRetryLogGate (every = 10): (info: RetryInfo) => boolean {
  let lastReason: string | undefined
  let cappedSinceLog = 0
  return (info) => {
    if (!info.capped || info.reason !== lastReason) {
      lastReason = info.reason
      cappedSinceLog = 0
      return true
    }
    cappedSinceLog++
    if (cappedSinceLog >= every) {
      cappedSinceLog = 0
      return true
    }
    return false
  }
}

export async function abortableSleep (ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) {
    signal?.throwIfAborted()
    return
  }
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason as Error)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    if (signal?.aborted === true) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
  })
}
