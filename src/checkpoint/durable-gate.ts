// Wraps the sink so at most `limit` hits are ever handed out but not yet covered by a checkpoint on disk.
import type { SourceProgress } from '../ack/source-progress.js'
import type { Hit, HitSink } from '../sink/sink.js'

/**
 * The duplicate bound, enforced: a hit can only be sent twice after a crash if it was sent and the checkpoint
 * on disk does not cover it yet. Every such hit was handed to the sink through this gate and not yet released
 * by `durable()`, and the gate never hands out more than `limit` of them: further hits wait in the gate, where
 * they cannot have been sent. With limit = concurrency × batch size, a crash at any moment re-sends at most
 * that many hits.
 */
export interface DurableGate extends HitSink {
  /** The checkpoint on disk now covers `progress` up to `offset`. */
  durable: (progress: SourceProgress, offset: number) => void
  /** Hits handed to the sink and not yet durable (never more than the limit). */
  readonly held: number
  /** Hits pushed but kept in the gate until durable hits make room (never sent yet). */
  readonly waiting: number
}

export interface DurableGateOptions {
  /**
   * Hits the reader may push beyond the limit; they wait in the gate (in order) and go to the sink as durable
   * hits make room. Lets reading and mapping go on while the sink and the checkpoint writer catch up, without
   * sending more than `limit` hits ahead of the disk. 0: the reader stops as soon as `limit` hits are out.
   * @default 0
   */
  aheadHits?: number
}

export function createDurableGate (inner: HitSink, limit: number, options: DurableGateOptions = {}): DurableGate {
  const ahead = Math.max(0, options.aheadHits ?? 0)
  /** Per source, the end offsets of its held hits in push order (offsets only grow within a source). */
  const ends = new Map<SourceProgress, { list: number[], head: number }>()
  let held = 0
  /** Hits not handed out yet, in push order; `waitHead` is the first one. */
  let waitList: Hit[] = []
  let waitHead = 0
  let waiters: Array<() => void> = []

  const waiting = (): number => waitList.length - waitHead
  const full = (): boolean => held >= limit && waiting() >= ahead

  const handOut = (hit: Hit): void => {
    let queue = ends.get(hit.progress)
    if (queue === undefined) {
      queue = { list: [], head: 0 }
      ends.set(hit.progress, queue)
    }
    queue.list.push(hit.ticket.end)
    held++
    inner.push(hit)
    // No more hits go out until acknowledged ones are on disk: partly filled batches must go now, or the
    // sink would wait for their age flush (--flush-interval-ms) every time the gate closes.
    if (held === limit) inner.flush?.()
  }

  const handOutWaiting = (): void => {
    while (held < limit && waitHead < waitList.length) {
      const hit = waitList[waitHead] as Hit
      waitList[waitHead] = undefined as unknown as Hit
      waitHead++
      handOut(hit)
    }
    if (waitHead === waitList.length) {
      waitList = []
      waitHead = 0
    } else if (waitHead > 1024 && waitHead * 2 > waitList.length) {
      waitList = waitList.slice(waitHead)
      waitHead = 0
    }
  }

  /** Resolves when durable hits make room (or the sink gave up: it never acknowledges what it holds). */
  const released = async (): Promise<void> => {
    const room = new Promise<void>((resolve) => { waiters.push(resolve) })
    await (inner.stopped === undefined ? room : Promise.race([room, inner.stopped]))
  }

  return {
    push (hit: Hit): void {
      if (held < limit && waitHead === waitList.length) handOut(hit)
      else waitList.push(hit)
    },
    flush (): void {
      inner.flush?.()
    },
    get saturated (): boolean {
      return full() || inner.saturated
    },
    async drained (): Promise<void> {
      for (;;) {
        if (full()) {
          await released()
        } else if (inner.saturated) {
          await inner.drained()
        } else {
          return
        }
      }
    },
    async end (): Promise<void> {
      try {
        while (waiting() > 0) {
          // Only durable hits make room: let the sink send what it holds now.
          inner.flush?.()
          const room = new Promise<void>((resolve) => { waiters.push(resolve) })
          await (inner.stopped === undefined ? room : Promise.race([room, inner.stopped]))
        }
      } catch {
        // The sink gave up: the waiting hits were never sent (nor acknowledged); its end() reports the failure.
      }
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
      handOutWaiting()
      // end() waits for any room, not only for the gate to open for the reader.
      const w = waiters
      waiters = []
      for (const fn of w) fn()
    },
    get held (): number {
      return held
    },
    get waiting (): number {
      return waiting()
    }
  }
}
