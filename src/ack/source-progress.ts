// Ordered acknowledgement per source: the offset below which every line is done, whatever order acks come in.

/** One hit line waiting for Matomo's answer. */
export interface Ticket {
  readonly start: number
  readonly end: number
  /** 1-based line number of the hit's line (0 when unknown). */
  readonly line: number
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
  /** Lines before `committed` (exact when every caller passes line numbers; 0 when unknown). */
  committedLine: number
  /** Lines before `committed`, for line numbers on resume (approximate when resumed from an older version). */
  private lastEnd: number
  private lastLine: number
  /** Called when an ack moves `committed` (the checkpoint writer records it at once). */
  onCommit: (() => void) | undefined
  private queue: Ticket[] = []
  private head = 0
  private pending = 0

  constructor (name: string, startOffset = 0, startLine = 0) {
    this.name = name
    this.committed = startOffset
    this.lastEnd = startOffset
    this.committedLine = startLine
    this.lastLine = startLine
  }

  /** Where the lines handed out so far end (done or held): a reading of the same content in this run starts there. */
  get readTo (): { offset: number, line: number } {
    return { offset: this.lastEnd, line: this.lastLine }
  }

  /** Hits not yet acknowledged. */
  get outstanding (): number {
    return this.pending
  }

  /** A line finished at once (filtered, rejected, skipped). */
  lineDone (end: number, line = 0): void {
    // Never backwards: lines held for format detection are done after later lines that were filtered at once;
    // every line not done holds a ticket, so an empty queue means everything up to the furthest end is done.
    if (end >= this.lastEnd) {
      this.lastEnd = end
      this.lastLine = line
    }
    if (this.head === this.queue.length) {
      this.committed = this.lastEnd
      this.committedLine = this.lastLine
    }
  }

  /** A hit line: done when its ticket is acknowledged. */
  hold (start: number, end: number, line = 0): Ticket {
    this.lastEnd = end
    this.lastLine = line
    const ticket: Ticket = { start, end, line, done: false }
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
    if (head >= queue.length || queue[head] !== ticket) return
    while (head < queue.length && (queue[head] as Ticket).done) head++
    if (head === queue.length) {
      this.queue = []
      this.head = 0
      this.committed = this.lastEnd
      this.committedLine = this.lastLine
    } else {
      // Compact now and then so the array does not grow without bound on a long tail.
      if (head > 4096 && head * 2 > queue.length) {
        this.queue = queue.slice(head)
        head = 0
      }
      this.head = head
      const first = this.queue[head] as Ticket
      this.committed = first.start
      this.committedLine = first.line > 0 ? first.line - 1 : 0
    }
    this.onCommit?.()
  }
}
