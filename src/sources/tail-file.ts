// Follows one open file through its descriptor: reads what was appended, notices truncation and replaced content.
import type { FileHandle } from 'node:fs/promises'
import { SourceProgress } from '../ack/source-progress.js'
import type { CheckpointWriter, TrackedFile } from '../checkpoint/writer.js'
import type { LineProcessor, SourceLineHandler } from '../line-processor.js'
import type { Logger } from '../log.js'
import type { HitSink } from '../sink/sink.js'
import { FINGERPRINT_BYTES, headMatches, identityOf, readHead, type FileIdentity, type FileStatIds } from './fingerprint.js'
import { feedLines } from './feed-lines.js'
import { LineSplitter } from './split-lines.js'
import { waitDrained } from './wait-drained.js'

const READ_CHUNK_BYTES = 64 * 1024
/**
 * Bytes read from one followed file in one poll at most, so that one file with a backlog (a slow Matomo, a
 * burst) does not starve the others: every file gets its share each round (8 MiB made a new file wait 23 s
 * behind a backlog at 300 ms per request). A file rotated away is read to its end instead (see tail-set).
 */
export const MAX_BYTES_PER_POLL = 1024 * 1024

export interface TailDeps {
  processor: LineProcessor
  sink: HitSink
  maxLineBytes: number
  logger: Logger
  writer: CheckpointWriter | undefined
  signal: AbortSignal | undefined
  /** Check back pressure after every line (see feedLines). */
  lineByLine?: boolean
}

/** One reading of the file from some offset: a truncation starts a new one at 0. */
interface Generation {
  tracked: TrackedFile
  splitter: LineSplitter
  handler: SourceLineHandler
}

export interface TailStart {
  path: string
  handle: FileHandle
  ids: FileStatIds
  head: Buffer
  /** Offset of the first byte to read: a line start. */
  offset: number
  line: number
  now: number
  /** The checkpoint entry the file resumes from. */
  resumed?: FileIdentity
}

/**
 * Invariant: `offset` is the next byte to read; every byte before it was handed to the splitter. The
 * checkpoint of a generation only ever covers lines the line processor finished (see SourceProgress).
 */
export class FileTailer {
  /** Last known path (a rename updates it). */
  path: string
  readonly dev: string
  readonly ino: string
  /** When the file was first found at no watched path (renamed away or deleted); undefined while it is at one. */
  detachedAt: number | undefined
  lastGrowthAt: number
  /** The last poll read to the end of the file (it was not cut short by its byte limit or an abort). */
  atEof = false
  /** The last poll stopped at its byte limit with more to read: the next round should not wait. */
  hitLimit = false
  private readonly handle: FileHandle
  private readonly deps: TailDeps
  private offset: number
  private gen: Generation
  /** Earlier generations (before a truncation) whose hits are still in flight. */
  private readonly previous: TrackedFile[] = []
  private readonly buffer = Buffer.alloc(READ_CHUNK_BYTES)
  private closed = false

  constructor (start: TailStart, deps: TailDeps) {
    this.path = start.path
    this.dev = String(start.ids.dev)
    this.ino = String(start.ids.ino)
    this.handle = start.handle
    this.deps = deps
    this.offset = start.offset
    this.lastGrowthAt = start.now
    this.gen = this.newGeneration(start.ids, start.head, start.offset, start.line, start.resumed)
  }

  get key (): string {
    return `${this.dev}:${this.ino}`
  }

  /** Next byte to read. */
  get position (): number {
    return this.offset
  }

  get isClosed (): boolean {
    return this.closed
  }

  /** Hits of this file (all generations) not yet acknowledged. */
  get outstanding (): number {
    let n = this.gen.tracked.progress.outstanding
    for (const t of this.previous) n += t.progress.outstanding
    return n
  }

  rename (path: string): void {
    this.deps.logger.info({ from: this.path, to: path }, `${this.path} was renamed to ${path}; following it`)
    this.path = path
    this.gen.tracked.path = path
  }

  /**
   * Reads what was appended since the last poll. Resolves true when the file grew. `clock` is read after the
   * reading: a poll held up by back pressure must not make the file look idle (see tail-set's retirement).
   */
  async poll (clock: () => number, maxBytes = MAX_BYTES_PER_POLL): Promise<boolean> {
    if (this.closed) return false
    this.hitLimit = false
    this.releasePrevious()
    const size = (await this.handle.stat()).size
    if (size < this.offset) {
      await this.restart(`truncated (size ${size} below the ${this.offset} bytes read)`)
    } else if (size > 0 && !(await this.headStillMatches())) {
      // Truncated and written back to our offset or past it between two polls: the size alone cannot tell,
      // the first bytes can (checked at every poll: one 1 KiB read).
      await this.restart('replaced (its first bytes changed)')
    }
    const { sink, signal } = this.deps
    let grew = false
    let readThisPoll = 0
    let eof = false
    while (readThisPoll < maxBytes && signal?.aborted !== true) {
      const { bytesRead } = await this.handle.read(this.buffer, 0, this.buffer.length, this.offset)
      if (bytesRead === 0) {
        eof = true
        break
      }
      const next = this.offset + bytesRead
      // Extend a short fingerprint before these bytes can be acknowledged, so a checkpoint never covers
      // bytes its fingerprint does not vouch for.
      const identity = this.gen.tracked.identity
      if (identity.headBytes < FINGERPRINT_BYTES && next > identity.headBytes && !(await this.refreshIdentity())) {
        // Truncated and refilled between the head check above and this read: these bytes are from the middle of
        // new content. Extending the fingerprint over them would vouch for the new content and hide its first
        // lines for good; start again at 0 instead.
        await this.restart('replaced (its first bytes changed)')
        continue
      }
      this.offset = next
      readThisPoll += bytesRead
      grew = true
      await feedLines(this.gen.splitter, this.buffer.subarray(0, bytesRead), sink, signal, this.deps.lineByLine === true)
      if (sink.saturated) await waitDrained(sink, signal)
    }
    this.atEof = eof
    this.hitLimit = !eof && readThisPoll >= maxBytes
    if (grew) this.lastGrowthAt = clock()
    return grew
  }

  /**
   * Closes the descriptor; the generations stay tracked until their hits are answered (see release).
   * `finish`: the file is done (a last line without a newline and lines held for format detection are
   * processed, as `read` does at the end of a file); false at shutdown, when nothing more may reach the sink.
   */
  async close (finish: boolean): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      if (finish) {
        this.gen.splitter.end()
        try {
          this.gen.handler.finish()
        } catch (err) {
          // MF_ERR_FORMAT_UNDETECTED at the end: the held lines count as held (read again by the next run).
          this.gen.handler.abandon()
          throw err
        }
      } else {
        this.gen.handler.abandon()
      }
    } finally {
      await this.handle.close()
    }
  }

  /** Stops tracking generations with nothing in flight; true when nothing of this file is left in flight. */
  release (): boolean {
    this.releasePrevious()
    if (!this.closed || this.gen.tracked.progress.outstanding > 0) return false
    this.deps.writer?.untrack(this.gen.tracked)
    return true
  }

  private releasePrevious (): void {
    for (let i = this.previous.length - 1; i >= 0; i--) {
      const tracked = this.previous[i] as TrackedFile
      if (tracked.progress.outstanding > 0) continue
      this.deps.writer?.untrack(tracked)
      this.previous.splice(i, 1)
    }
  }

  private async headStillMatches (): Promise<boolean> {
    const identity = this.gen.tracked.identity
    if (identity.headBytes === 0) return true
    const { head } = await readHead(this.handle)
    return headMatches(identity, head)
  }

  /** Extends a short fingerprint over what the file holds now; false (unchanged) when its first bytes are no longer the fingerprinted ones. */
  private async refreshIdentity (): Promise<boolean> {
    const stat = await this.handle.stat({ bigint: true })
    const { head } = await readHead(this.handle)
    if (!headMatches(this.gen.tracked.identity, head)) return false
    this.gen.tracked.identity = identityOf(stat, head)
    return true
  }

  /**
   * Starts again at 0. The old generation keeps its checkpoint entry (a copy made by copytruncate may match
   * it by content); its partial line, if any, is lost with the bytes that were cut.
   */
  private async restart (why: string): Promise<void> {
    this.deps.logger.warn({ path: this.path, offset: this.offset }, `${this.path} was ${why}; reading it again from the start`)
    const old = this.gen.tracked
    this.gen.handler.finish()
    if (old.progress.outstanding > 0) this.previous.push(old)
    else this.deps.writer?.untrack(old)
    const stat = await this.handle.stat({ bigint: true })
    const { head } = await readHead(this.handle)
    this.offset = 0
    this.gen = this.newGeneration(stat, head, 0, 0)
  }

  private newGeneration (ids: FileStatIds, head: Buffer, offset: number, line: number, resumed?: FileIdentity): Generation {
    const progress = new SourceProgress(this.path, offset, line)
    const tracked: TrackedFile = { identity: identityOf(ids, head), path: this.path, progress }
    this.deps.writer?.track(tracked, resumed)
    const handler = this.deps.processor.forSource(progress)
    const splitter = new LineSplitter(handler, { maxLineBytes: this.deps.maxLineBytes, startOffset: offset, startLine: line })
    return { tracked, splitter, handler }
  }
}

/** Offset just after the last newline before `size` (0 if none): where `--start-at end` begins, at a line start. */
export async function lastLineEnd (handle: FileHandle, size: number): Promise<number> {
  const buffer = Buffer.alloc(READ_CHUNK_BYTES)
  let end = size
  while (end > 0) {
    const start = Math.max(0, end - buffer.length)
    const { bytesRead } = await handle.read(buffer, 0, end - start, start)
    const nl = buffer.subarray(0, bytesRead).lastIndexOf(0x0a)
    if (nl !== -1) return start + nl + 1
    end = start
  }
  return 0
}

/**
 * Lines before `offset` (a line start), so that a file first followed from its end reports true line numbers
 * in logs and reject records. Reads the file once, at that first start only.
 */
export async function countLines (handle: FileHandle, offset: number, signal?: AbortSignal): Promise<number> {
  const buffer = Buffer.alloc(READ_CHUNK_BYTES)
  let lines = 0
  // An abort stops the count: 0 means unknown (offsets stay exact).
  for (let position = 0; position < offset && signal?.aborted !== true;) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, offset - position), position)
    if (bytesRead === 0) break
    for (let i = buffer.indexOf(0x0a, 0); i !== -1 && i < bytesRead; i = buffer.indexOf(0x0a, i + 1)) lines++
    position += bytesRead
  }
  return signal?.aborted === true ? 0 : lines
}

