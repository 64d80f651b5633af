// Splits a byte stream into lines with exact byte offsets; over-long lines are reported, never held whole.

/** Receives every line; offsets are byte positions in the source (end includes the newline). */
export interface LineHandler {
  /** `text` has no line terminator (LF or CRLF) and no UTF-8 BOM. */
  line: (text: string, lineNo: number, start: number, end: number) => void
  /** A line longer than maxLineBytes; `head` is its first bytes, for the reject file. */
  tooLong: (head: string, lineNo: number, start: number, end: number) => void
}

export interface SplitterOptions {
  maxLineBytes: number
  /** Offset of the first byte pushed (a resumed file starts at its checkpoint). */
  startOffset?: number
  /** Number of lines before startOffset, so line numbers stay those of the file. 0 when unknown. */
  startLine?: number
}

const LF = 0x0a
const CR = 0x0d
const HEAD_BYTES = 1024

/**
 * Byte-level rather than string-level splitting (split2 decodes first) keeps offsets exact for invalid UTF-8
 * and lets an over-long line be counted and skipped without buffering it: both are needed for checkpoints.
 */
export class LineSplitter {
  private readonly handler: LineHandler
  private readonly maxLineBytes: number
  /** Offset of the next byte to arrive. */
  private offset: number
  /** Offset where the current (unfinished) line starts. */
  private start: number
  private lineNo: number
  /** Pieces of the current unfinished line (at most maxLineBytes in all). */
  private partial: Buffer[] = []
  /** Bytes of the current line seen so far, including those dropped after it became too long. */
  private lineBytes = 0
  /** Set once the current line is known to be too long: its first bytes. */
  private overflowHead: string | undefined

  constructor (handler: LineHandler, options: SplitterOptions) {
    this.handler = handler
    this.maxLineBytes = options.maxLineBytes
    this.offset = options.startOffset ?? 0
    this.start = this.offset
    this.lineNo = options.startLine ?? 0
  }

  /** Offset where the current unfinished line starts: everything before it has been handed out. */
  get lineStart (): number {
    return this.start
  }

  /** Offset of the next byte to arrive: where the input read so far ends. */
  get offsetEnd (): number {
    return this.offset
  }

  /** Bytes received for a line whose newline has not arrived yet. */
  get pendingBytes (): number {
    return this.lineBytes
  }

  get linesSeen (): number {
    return this.lineNo
  }

  push (chunk: Buffer): void {
    let pos = 0
    const length = chunk.length
    while (pos < length) {
      const nl = chunk.indexOf(LF, pos)
      if (nl === -1) {
        this.hold(chunk, pos, length)
        this.offset += length - pos
        return
      }
      const pieceEnd = nl + 1
      this.offset += pieceEnd - pos
      if (this.lineBytes === 0) {
        // Fast path: the whole line is inside this chunk, no copy. Its terminator (LF or CRLF) is not counted.
        if (nl - pos - (nl > pos && chunk[nl - 1] === CR ? 1 : 0) > this.maxLineBytes) {
          this.overflowHead = chunk.toString('utf8', pos, Math.min(pos + HEAD_BYTES, nl))
          this.finishOverflow()
        } else {
          this.emitLine(chunk, pos, nl)
        }
      } else {
        this.hold(chunk, pos, pieceEnd)
        if (this.overflowHead !== undefined) {
          this.finishOverflow()
        } else {
          this.emitHeld(true)
        }
      }
      pos = pieceEnd
    }
  }

  /** End of input: a last line without a newline is a line too. */
  end (): void {
    if (this.lineBytes === 0) return
    if (this.overflowHead !== undefined) {
      this.finishOverflow()
      return
    }
    this.emitHeld(false)
  }

  /** Emits the held line, or reports it too long: only now is its terminator known (a CR may end one piece, the LF start the next). */
  private emitHeld (endsWithLf: boolean): void {
    const whole = this.takePartial()
    const to = endsWithLf ? whole.length - 1 : whole.length
    if (to - (to > 0 && whole[to - 1] === CR ? 1 : 0) > this.maxLineBytes) {
      this.overflowHead = whole.toString('utf8', 0, Math.min(HEAD_BYTES, to))
      this.finishOverflow()
      return
    }
    this.emitLine(whole, 0, to)
  }

  private hold (chunk: Buffer, from: number, to: number): void {
    this.lineBytes += to - from
    if (this.overflowHead !== undefined) return
    // +2: the held bytes may include the line's CR and LF (the exact length is checked when the line ends).
    if (this.lineBytes > this.maxLineBytes + 2) {
      const head = Buffer.concat([...this.partial, chunk.subarray(from, Math.min(to, from + HEAD_BYTES))])
      this.overflowHead = head.toString('utf8', 0, Math.min(HEAD_BYTES, head.length))
      this.partial = []
      return
    }
    // Copy: the stream may reuse the chunk's memory.
    this.partial.push(Buffer.from(chunk.subarray(from, to)))
  }

  private takePartial (): Buffer {
    const whole = this.partial.length === 1 ? (this.partial[0] as Buffer) : Buffer.concat(this.partial)
    this.partial = []
    this.lineBytes = 0
    return whole
  }

  private finishOverflow (): void {
    const start = this.start
    const head = this.overflowHead ?? ''
    this.start = this.offset
    this.overflowHead = undefined
    this.lineBytes = 0
    this.lineNo++
    this.handler.tooLong(head, this.lineNo, start, this.offset)
  }

  /** Emits buf[from, to) as a line; `to` is the index of its LF, or the end of the data. */
  private emitLine (buf: Buffer, from: number, to: number): void {
    const start = this.start
    this.start = this.offset
    if (to > from && buf[to - 1] === CR) to--
    // A UTF-8 BOM starts a file written by some Windows tools, and any line of files concatenated from them.
    if (buf[from] === 0xef && buf[from + 1] === 0xbb && buf[from + 2] === 0xbf) from += 3
    this.lineNo++
    this.handler.line(buf.toString('utf8', from, to), this.lineNo, start, this.offset)
  }
}
