// Container log wrappers, unwrapped per line before the format applies: Docker json-file and the Kubernetes CRI prefix.
import type { JsonRecord } from './access-entry.js'

/** One physical line of a container log, unwrapped. Reused between lines by its owner (no allocation per line). */
export interface ContainerLine {
  stream: string
  /** True for a piece of a longer line (CRI tag P, or a Docker `log` without its final newline). */
  partial: boolean
  /** The application's line (or piece of it). */
  content: string
}

export function createContainerLine (): ContainerLine {
  return { stream: '', partial: false, content: '' }
}

/**
 * The CRI log line of containerd / CRI-O: `<RFC 3339 time> <stdout|stderr> <P|F>[:flags] <content>`.
 * Fills `out` and returns true when `text` has that prefix. Cheap to call on any line: one character test first.
 */
export function parseCriLine (text: string, out: ContainerLine): boolean {
  const c0 = text.charCodeAt(0)
  if (c0 < 48 || c0 > 57 || text.charCodeAt(4) !== 45 /* - */ || text.charCodeAt(10) !== 84 /* T */) return false
  const s1 = text.indexOf(' ', 11)
  if (s1 === -1) return false
  let stream: string
  if (text.startsWith('stdout ', s1 + 1)) stream = 'stdout'
  else if (text.startsWith('stderr ', s1 + 1)) stream = 'stderr'
  else return false
  const tagAt = s1 + 8
  const tag = text.charCodeAt(tagAt)
  if (tag !== 80 /* P */ && tag !== 70 /* F */) return false
  // Tags may carry more flags after a colon ("F:x"); the content follows the next space (absent for an empty line).
  let contentAt = tagAt + 1
  const next = text.charCodeAt(contentAt)
  if (next === 58 /* : */) {
    const space = text.indexOf(' ', contentAt)
    contentAt = space === -1 ? text.length : space
  } else if (next !== 32 && contentAt !== text.length) {
    return false
  }
  out.stream = stream
  out.partial = tag === 80
  out.content = contentAt >= text.length ? '' : text.slice(contentAt + 1)
  return true
}

/**
 * Docker's json-file driver: `{"log":"<line>\n","stream":"stdout","time":"..."}`. A `log` without its final
 * newline is a piece of a line longer than 16 KiB, continued by the next record of the same stream.
 */
export function unwrapDocker (record: JsonRecord, out: ContainerLine): boolean {
  const log = record.log
  const stream = record.stream
  if (typeof log !== 'string' || typeof stream !== 'string' || !('time' in record)) return false
  let end = log.length
  const partial = log.charCodeAt(end - 1) !== 10
  if (!partial) {
    end--
    if (log.charCodeAt(end - 1) === 13) end--
  }
  out.stream = stream
  out.partial = partial
  out.content = end === log.length ? log : log.slice(0, end)
  return true
}

/** An entry whose pieces are complete. */
export interface JoinedLine<T> {
  /** The joined content; only the first bytes when tooLong. */
  text: string
  tooLong: boolean
  /** Total bytes of the pieces (UTF-8). */
  bytes: number
  /** Line number and offset of the first piece. */
  lineNo: number
  start: number
  /** End offset of the last piece seen. */
  end: number
  /** What the caller attached to the first piece (the progress ticket that holds the checkpoint back). */
  token: T
}

const HEAD_CHARS = 1024

/**
 * Joins the pieces of long lines, per stream of one source (stdout and stderr pieces may interleave).
 * Bounded: once an entry passes maxBytes its pieces are dropped and it ends as too long, head kept.
 */
export class PartialLines<T> {
  private readonly open = new Map<string, JoinedLine<T> & { pieces: string[], mark: number }>()
  private readonly maxBytes: number

  constructor (maxBytes: number) {
    this.maxBytes = maxBytes
  }

  get size (): number {
    return this.open.size
  }

  has (stream: string): boolean {
    return this.open.has(stream)
  }

  /** First piece of an entry of `stream` (none may be open for it). `mark`: the caller's count when it began. */
  begin (stream: string, piece: string, lineNo: number, start: number, end: number, token: T, mark = 0): void {
    const entry = { text: '', tooLong: false, bytes: 0, lineNo, start, end, token, mark, pieces: [] as string[] }
    this.open.set(stream, entry)
    this.append(entry, piece, end)
  }

  /** Closes and returns the entries begun at a mark below `mark` (their last piece is given up on), oldest first. */
  drainBegunBefore (mark: number): Array<JoinedLine<T> & { stream: string }> {
    const stale: Array<JoinedLine<T> & { stream: string }> = []
    for (const [stream, entry] of this.open) {
      if (entry.mark >= mark) continue
      this.open.delete(stream)
      stale.push({ ...close(entry), stream })
    }
    return stale.sort((a, b) => a.start - b.start)
  }

  /** A middle piece of the open entry of `stream`. */
  add (stream: string, piece: string, end: number): void {
    const entry = this.open.get(stream)
    if (entry !== undefined) this.append(entry, piece, end)
  }

  /** A piece known only to be too long (its line passed --max-line-bytes before the splitter). */
  overflow (stream: string, head: string, end: number): void {
    const entry = this.open.get(stream)
    if (entry === undefined) return
    entry.bytes += this.maxBytes + 1
    this.append(entry, head, end)
  }

  /** The last piece: closes and returns the entry of `stream`. */
  finish (stream: string, piece: string, end: number): JoinedLine<T> | undefined {
    const entry = this.open.get(stream)
    if (entry === undefined) return undefined
    this.open.delete(stream)
    this.append(entry, piece, end)
    return close(entry)
  }

  /** Every entry still open (end of input), in order of their first piece. */
  drain (): Array<JoinedLine<T>> {
    const entries = [...this.open.values()].sort((a, b) => a.start - b.start)
    this.open.clear()
    return entries.map(close)
  }

  private append (entry: JoinedLine<T> & { pieces: string[] }, piece: string, end: number): void {
    entry.end = end
    entry.bytes += Buffer.byteLength(piece)
    if (entry.tooLong) return
    if (entry.bytes > this.maxBytes) {
      entry.tooLong = true
      entry.text = (entry.pieces.join('') + piece).slice(0, HEAD_CHARS)
      entry.pieces = []
      return
    }
    entry.pieces.push(piece)
  }
}

function close<T> (entry: JoinedLine<T> & { pieces: string[] }): JoinedLine<T> {
  return {
    text: entry.tooLong ? entry.text : entry.pieces.join(''),
    tooLong: entry.tooLong,
    bytes: entry.bytes,
    lineNo: entry.lineNo,
    start: entry.start,
    end: entry.end,
    token: entry.token
  }
}
