// Wraps the sink so at most `limit` hits are ever handed out but not yet covered by a checkpoint on disk.
import type { SourceProgress } from '../ack/source-progress.js'
import type { Hit, HitSink } from '../sink/sink.js'

/**
 * The duplicate bound, enforced: a hit can only be sent twice after a crash if it was sent and the checkpoint
 * on disk does not cover it yet. Every such hit was pushed through this gate and not yet released by
 * `durable()`, and the gate holds the reader back (saturated) while there are `limit` of them. With
 * limit = concurrency × batch size, a crash at any moment re-sends at most that many hits.
 */
export interface DurableGate extends HitSink {
  /** The checkpoint on disk now covers `progress` up to `offset`. */
  durable: (progress: SourceProgress, offset: number) => void
  /** Hits pushed and not yet durable. */
  readonly held: number
}

export function createDurableGate (inner: HitSink, limit: number): DurableGate {
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
    }
  }
}
