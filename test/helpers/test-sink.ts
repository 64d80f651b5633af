// An in-process HitSink the test controls: acks at once, later, in batches over lanes, never, or saturates.
import { errors } from '../../src/errors.js'
import type { Hit, HitSink } from '../../src/sink/sink.js'
import { hitId } from './log-lines.js'

export interface TestSinkOptions {
  /**
   * 'immediate': acked on push. 'manual': held until the test calls ack*. 'lanes': grouped into batches of
   * batchSize, at most `concurrency` batches in flight, each acked after delayMs (a stand-in for the sender).
   */
  mode?: 'immediate' | 'manual' | 'lanes'
  batchSize?: number
  concurrency?: number
  delayMs?: number
  /** Saturated while this many hits are unacknowledged (lanes: concurrency × batchSize). */
  capacity?: number
  /** Hits for which this is true are never acknowledged; end() then rejects like a sender that gave up. */
  failing?: (id: string) => boolean
  /** Called just before a hit is acknowledged (e.g. to record its id durably, as Matomo would). */
  onDeliver?: (id: string, hit: Hit) => void
}

export interface TestSink extends HitSink {
  /** Ids of every hit pushed, in order. */
  readonly pushed: string[]
  /** Ids acknowledged, in order. */
  readonly acked: string[]
  /** Hits pushed and not yet acknowledged (nor failed). */
  readonly pending: Hit[]
  readonly failed: Hit[]
  ackAll: () => void
  ackFirst: (count: number) => void
  /** Most hits ever unacknowledged at once. */
  readonly maxInFlight: number
}

export function createTestSink (options: TestSinkOptions = {}): TestSink {
  const mode = options.mode ?? 'immediate'
  const batchSize = options.batchSize ?? 10
  const concurrency = options.concurrency ?? 2
  const capacity = options.capacity ?? (mode === 'lanes' ? batchSize * concurrency : Number.POSITIVE_INFINITY)
  const pushed: string[] = []
  const acked: string[] = []
  const pending: Hit[] = []
  const failed: Hit[] = []
  let buffer: Hit[] = []
  let lanesBusy = 0
  let maxInFlight = 0
  let waiters: Array<() => void> = []
  let idleWaiters: Array<() => void> = []

  /** Pending includes hits still buffered for a batch. */
  const unanswered = (): number => pending.length
  const notify = (): void => {
    if (unanswered() < capacity) {
      const w = waiters
      waiters = []
      for (const fn of w) fn()
    }
    if (pending.length === 0 && lanesBusy === 0) {
      const w = idleWaiters
      idleWaiters = []
      for (const fn of w) fn()
    }
  }

  const deliver = (hit: Hit): void => {
    const index = pending.indexOf(hit)
    if (index !== -1) pending.splice(index, 1)
    const id = hitId(hit)
    options.onDeliver?.(id, hit)
    acked.push(id)
    hit.progress.ack(hit.ticket)
  }

  const sendBatches = (final: boolean): void => {
    while (lanesBusy < concurrency && (buffer.length >= batchSize || (final && buffer.length > 0))) {
      const batch = buffer.slice(0, batchSize)
      buffer = buffer.slice(batchSize)
      lanesBusy++
      setTimeout(() => {
        lanesBusy--
        for (const hit of batch) {
          if (options.failing?.(hitId(hit)) === true) {
            pending.splice(pending.indexOf(hit), 1)
            failed.push(hit)
          } else {
            deliver(hit)
          }
        }
        sendBatches(ending)
        notify()
      }, options.delayMs ?? 1)
    }
  }

  let ending = false

  const sink: TestSink = {
    pushed,
    acked,
    pending,
    failed,
    get maxInFlight () {
      return maxInFlight
    },
    push (hit: Hit): void {
      const id = hitId(hit)
      pushed.push(id)
      pending.push(hit)
      maxInFlight = Math.max(maxInFlight, pending.length)
      if (mode === 'lanes') {
        buffer.push(hit)
        sendBatches(false)
        return
      }
      if (options.failing?.(id) === true) {
        pending.splice(pending.indexOf(hit), 1)
        failed.push(hit)
        return
      }
      if (mode === 'immediate') deliver(hit)
    },
    get saturated (): boolean {
      return unanswered() >= capacity
    },
    async drained (): Promise<void> {
      if (unanswered() < capacity) return
      await new Promise<void>((resolve) => { waiters.push(resolve) })
    },
    async end (): Promise<void> {
      ending = true
      if (mode === 'lanes') {
        // The buffer holds hits, pending holds them too: wait until every batch was answered.
        sendBatches(true)
      }
      if (pending.length > 0 || lanesBusy > 0) await new Promise<void>((resolve) => { idleWaiters.push(resolve) })
      if (failed.length > 0) throw errors.MF_ERR_SINK_GAVE_UP(1, `test sink refused ${failed.length} hits`)
    },
    ackAll (): void {
      for (const hit of [...pending]) deliver(hit)
      notify()
    },
    ackFirst (count: number): void {
      for (const hit of pending.slice(0, count)) deliver(hit)
      notify()
    }
  }
  return sink
}
