// Ordered acknowledgement per source: the offset below which every line is done, whatever order acks come in.

/** One hit line waiting for Matomo's answer. */
export interface Ticket {
  readonly start: number
  readonly end: number
  done: boolean
}

/**
 * A line is done when Matomo acknowledged its hit, or it was filtered, or rejected. `committed` only moves to
 * the end of the highest line below which every line is done; a batch still failing holds it back.
 * Invariant: every ticket in the queue from `head` on belongs to a line at or after `committed`.
 */
export class SourceProgress {
  /** Display name: the path, or "-" for stdin. */
  readonly name: string
  /** Offset up to which every line is done: what a checkpoint may record. */
  committed: number
  /** Lines before `committed`, for line numbers on resume (approximate when resumed from an older version). */
  private lastEnd: number
  private queue: Ticket[] = []
  private head = 0
  private pending = 0

  constructor (name: string, startOffset = 0) {
    this.name = name
    this.committed = startOffset
    this.lastEnd = startOffset
  }

  /** Hits not yet acknowledged. */
  get outstanding (): number {
    return this.pending
  }

  /** A line finished at once (filtered, rejected, skipped). */
  lineDone (end: number): void {
    this.lastEnd = end
    if (this.head === this.queue.length) this.committed = end
  }

  /** A hit line: done when its ticket is acknowledged. */
  hold (start: number, end: number): Ticket {
    this.lastEnd = end
    const ticket: Ticket = { start, end, done: false }
    this.queue.push(ticket)
    this.pending++
    return ticket
  }

  ack (ticket: Ticket): void {
    if (ticket.done) return
    ticket.done = true
    this.pending--
    const queue = this.queue
    let head = this.head
    while (head < queue.length && (queue[head] as Ticket).done) head++
    if (head === queue.length) {
      this.queue = []
      this.head = 0
      this.committed = this.lastEnd
    } else {
      // Compact now and then so the array does not grow without bound on a long tail.
      if (head > 4096 && head * 2 > queue.length) {
        this.queue = queue.slice(head)
        head = 0
      }
      this.head = head
      this.committed = (this.queue[head] as Ticket).start
    }
  }
}
