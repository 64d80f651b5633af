// Enforces the duplicate bound: at most `limit` hits sent to Matomo and not yet covered by a checkpoint on disk.
import type { SourceProgress } from '../ack/source-progress.js'
import type { Hit, HitSink, SendBudget } from '../sink/sink.js'

/**
 * The duplicate bound, enforced: after a crash, a hit is sent twice only if it was sent and the checkpoint on
 * disk does not cover it yet. With limit = concurrency × batch size, a crash at any moment re-sends at most that
 * many hits.
 *
 * A sender that schedules its own batches (the Matomo sink, `useBudget`) asks the gate before each request, so
 * only sent hits count and the reader runs ahead freely. Any other sink gets the conservative form: every pushed
 * hit counts until it is durable, and the reader waits.
 */
export interface DurableGate extends HitSink {
  /** The checkpoint on disk now covers `progress` up to `offset`. */
  durable: (progress: SourceProgress, offset: number) => void
  /** Hits counted against the limit (sent, or pushed for a plain sink) and not yet durable. */
  readonly held: number
  /** True when the gate counts pushes: the reader must then check `saturated` after every line. */
  readonly countsPushes: boolean
}

export function createDurableGate (inner: HitSink, limit: number): DurableGate {
  return inner.useBudget === undefined ? pushCountingGate(inner, limit) : budgetGate(inner, limit)
}

/** A min-heap of numbers (the end offsets of held hits of one source, which are taken out of order). */
class MinHeap {
  readonly items: number[] = []

  push (value: number): void {
    const a = this.items
    let i = a.length
    a.push(value)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((a[parent] as number) <= value) break
      a[i] = a[parent] as number
      i = parent
    }
    a[i] = value
  }

  peek (): number | undefined {
    return this.items[0]
  }

  pop (): void {
    const a = this.items
    const last = a.pop() as number
    if (a.length === 0) return
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= a.length) break
      const right = left + 1
      const child = right < a.length && (a[right] as number) < (a[left] as number) ? right : left
      if ((a[child] as number) >= last) break
      a[i] = a[child] as number
      i = child
    }
    a[i] = last
  }
}

/** The budget a scheduling sender draws from: sent hits count until the checkpoint on disk covers them. */
export function createSendBudget (limit: number): SendBudget & { durable: (progress: SourceProgress, offset: number) => void, readonly held: number } {
  const heaps = new Map<SourceProgress, MinHeap>()
  let held = 0
  const budget = {
    onRelease: undefined as (() => void) | undefined,
    room (): number {
      return limit - held
    },
    take (hits: readonly Hit[]): void {
      for (const hit of hits) {
        let heap = heaps.get(hit.progress)
        if (heap === undefined) {
          heap = new MinHeap()
          heaps.set(hit.progress, heap)
        }
        heap.push(hit.ticket.end)
      }
      held += hits.length
    },
    durable (progress: SourceProgress, offset: number): void {
      const heap = heaps.get(progress)
      if (heap === undefined) return
      let released = 0
      for (let first = heap.peek(); first !== undefined && first <= offset; first = heap.peek()) {
        heap.pop()
        released++
      }
      if (heap.items.length === 0) heaps.delete(progress)
      if (released === 0) return
      held -= released
      budget.onRelease?.()
    },
    get held (): number {
      return held
    }
  }
  return budget
}

function budgetGate (inner: HitSink, limit: number): DurableGate {
  const budget = createSendBudget(limit)
  inner.useBudget?.(budget)
  return {
    push: (hit: Hit) => { inner.push(hit) },
    get saturated (): boolean {
      return inner.saturated
    },
    drained: async () => { await inner.drained() },
    end: async () => { await inner.end() },
    flush: () => { inner.flush?.() },
    stopped: inner.stopped,
    get unanswered (): number | undefined {
      return inner.unanswered
    },
    durable: budget.durable,
    get held (): number {
      return budget.held
    },
    countsPushes: false
  }
}

/** For sinks that do not schedule by budget: every pushed hit counts until durable, and the reader waits. */
function pushCountingGate (inner: HitSink, limit: number): DurableGate {
  /** Per source, the end offsets of its held hits in push order (offsets only grow within a source). */
  const ends = new Map<SourceProgress, { list: number[], head: number }>()
  let held = 0
  let waiters: Array<() => void> = []

  const open = (): void => {
    if (held >= limit) return
    const w = waiters
    waiters = []
    for (const fn of w) fn()
  }

  return {
    push (hit: Hit): void {
      let queue = ends.get(hit.progress)
      if (queue === undefined) {
        queue = { list: [], head: 0 }
        ends.set(hit.progress, queue)
      }
      queue.list.push(hit.ticket.end)
      held++
      inner.push(hit)
      // The reader stops here until acknowledged hits are on disk: partly filled batches must go now, or the
      // reader would wait for their age flush (--flush-interval-ms) every time the gate closes.
      if (held === limit) inner.flush?.()
    },
    get saturated (): boolean {
      return held >= limit || inner.saturated
    },
    get unanswered (): number | undefined {
      return inner.unanswered
    },
    async drained (): Promise<void> {
      for (;;) {
        if (held >= limit) {
          const released = new Promise<void>((resolve) => { waiters.push(resolve) })
          // A sender that gives up never acknowledges the held hits: its failure must end the wait.
          await (inner.stopped === undefined ? released : Promise.race([released, inner.stopped]))
        } else if (inner.saturated) {
          await inner.drained()
        } else {
          return
        }
      }
    },
    async end (): Promise<void> {
      await inner.end()
    },
    flush: () => { inner.flush?.() },
    stopped: inner.stopped,
    durable (progress: SourceProgress, offset: number): void {
      const queue = ends.get(progress)
      if (queue === undefined) return
      const { list } = queue
      let head = queue.head
      while (head < list.length && (list[head] as number) <= offset) head++
      held -= head - queue.head
      if (head === list.length) {
        ends.delete(progress)
      } else if (head > 1024 && head * 2 > list.length) {
        queue.list = list.slice(head)
        queue.head = 0
      } else {
        queue.head = head
      }
      open()
    },
    get held (): number {
      return held
    },
    countsPushes: true
  }
}
