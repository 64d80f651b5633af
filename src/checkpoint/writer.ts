// Writes the committed position of every tracked file to the checkpoint store periodically and at the end.
import type { SourceProgress } from '../ack/source-progress.js'
import type { Logger } from '../log.js'
import type { RejectWriter } from '../output/reject-file.js'
import { identityKey, type FileIdentity } from '../sources/fingerprint.js'
import type { CheckpointStore } from './store.js'

export const CHECKPOINT_INTERVAL_MS = 1000
/** Longest an acknowledgement waits for the other answers of its round before it is written anyway. */
export const WRITE_DEFER_MAX_MS = 25
/** Checkpoint writes failing for this long (disk full, state dir gone) stop the run instead of stalling it. */
export const CHECKPOINT_GIVE_UP_MS = 60_000

/** A file being read: the reader owns it and may update `identity` (a growing head) and `path` (a rename). */
export interface TrackedFile {
  identity: FileIdentity
  path: string
  readonly progress: SourceProgress
  /** Set when the file was read to its end: lets a finished gzip file be skipped without decompressing it. */
  eof?: { offset: number, rawSize: number }
}

export interface CheckpointWriter {
  /** `replaces`: the checkpoint the file resumed from, when its fingerprint has grown since. */
  track: (file: TrackedFile, replaces?: FileIdentity) => void
  /** Records the file's last position and stops tracking it (it is closed and nothing of it is in flight). */
  untrack: (file: TrackedFile) => void
  /** Snapshot → reject file fsync → atomic write (if anything changed). */
  flush: () => Promise<void>
  /** Starts the periodic flush. */
  start: () => void
  /** The sender has no request in flight: writes now what `deferWhile` held back. */
  quiet: () => void
  /** Stops the periodic flush and flushes one last time; throws if that fails. */
  stop: () => Promise<void>
}

export interface CheckpointWriterOptions {
  store: CheckpointStore
  rejects: RejectWriter | undefined
  logger: Logger
  intervalMs?: number
  /** Told, after each successful write, the offset now on disk for each file (the durable-progress gate). */
  onDurable?: (progress: SourceProgress, offset: number) => void
  /**
   * True while more answers are about to come (requests in flight): an acknowledgement then waits for them, at
   * most WRITE_DEFER_MAX_MS, or until quiet(), so one write (one fsync) covers a whole round of answers.
   */
  deferWhile?: () => boolean
  /**
   * Called once when writes have failed without a success for `giveUpMs`: the run cannot progress (the durable
   * gate holds the sender back), so it should stop with this error rather than hang.
   */
  onGiveUp?: (err: unknown) => void
  /** @default CHECKPOINT_GIVE_UP_MS */
  giveUpMs?: number
}

export function createCheckpointWriter (options: CheckpointWriterOptions): CheckpointWriter {
  const { store, rejects, logger } = options
  const intervalMs = options.intervalMs ?? CHECKPOINT_INTERVAL_MS
  /** Each tracked file and the identity its entry was last stored under. */
  const tracked = new Map<TrackedFile, FileIdentity | undefined>()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let failedBefore = false
  let wanted = false
  let loop: Promise<void> | undefined
  let looping = false
  let stopped = false
  /** Untracked files whose last position is not yet on disk: announced durable after the next write. */
  let retiring: Array<{ file: TrackedFile, offset: number }> = []
  let deferred: NodeJS.Timeout | undefined

  const record = (file: TrackedFile): void => {
    const previous = tracked.get(file)
    const { committed, committedLine } = file.progress
    const complete = file.eof !== undefined && committed >= file.eof.offset ? file.eof.rawSize : undefined
    store.set(file.identity, { offset: committed, line: committedLine, path: file.path, completeRawSize: complete },
      previous !== undefined && identityKey(previous) !== identityKey(file.identity) ? previous : undefined)
    tracked.set(file, file.identity)
  }

  const flushOnce = async (): Promise<void> => {
    // Order matters for crash safety: positions are read first, then every reject record written before
    // that moment is fsynced, and only then may the checkpoint cover the rejected lines.
    const recorded: Array<{ file: TrackedFile, offset: number }> = [...retiring]
    for (const file of tracked.keys()) {
      record(file)
      recorded.push({ file, offset: file.progress.committed })
    }
    if (store.dirty) {
      await rejects?.flush()
      await store.write()
    }
    retiring = retiring.filter((r) => !recorded.includes(r))
    if (options.onDurable !== undefined) for (const r of recorded) options.onDurable(r.file.progress, r.offset)
  }

  const flush = async (): Promise<void> => {
    while (running !== undefined) await running.catch(() => undefined)
    const run = flushOnce()
    running = run
    try {
      await run
    } finally {
      running = undefined
    }
  }

  const giveUpMs = options.giveUpMs ?? CHECKPOINT_GIVE_UP_MS
  /** When the current run of failed writes began (performance.now()), or undefined after a success. */
  let failingSince: number | undefined
  let gaveUp = false

  const report = (err: unknown): void => {
    // The timer retries; while writes fail, the durable gate holds the sender back, so after giveUpMs the run
    // is told to stop (the final flush reports the error if it persists).
    if (!failedBefore) logger.error({ err, path: store.path }, (err as Error).message)
    failedBefore = true
    const now = performance.now()
    failingSince ??= now
    if (!gaveUp && now - failingSince >= giveUpMs) {
      gaveUp = true
      options.onGiveUp?.(err)
    }
  }

  /**
   * Asks for a write soon; requests during a write are coalesced into one write after it. Called for an
   * acknowledgement that moves a position (at once, or when its round of answers is complete: `committed`), by
   * the periodic timer, and when a file is untracked.
   */
  const kick = (): void => {
    if (deferred !== undefined) {
      clearTimeout(deferred)
      deferred = undefined
    }
    wanted = true
    if (looping || stopped) return
    looping = true
    loop = (async () => {
      // Let the acknowledgements of a whole batch (acked in one synchronous loop) land before recording.
      await Promise.resolve()
      try {
        while (wanted) {
          wanted = false
          try {
            await flush()
            if (failedBefore) logger.info({ path: store.path }, 'checkpoint writes work again')
            failedBefore = false
            failingSince = undefined
          } catch (err) {
            // The periodic timer kicks again; until a write succeeds the durable gate holds reading back.
            report(err)
            return
          }
        }
      } finally {
        // Cleared in the same microtask as the last check of `wanted`: a kick cannot fall in between.
        looping = false
      }
    })()
  }

  /**
   * An acknowledgement moved a position. Crash safety does not depend on when it is written: until it is on
   * disk its hits count against the duplicate bound (the send budget), and the sender waits for room.
   */
  const committed = (): void => {
    if (options.deferWhile?.() !== true) {
      kick()
      return
    }
    deferred ??= setTimeout(kick, WRITE_DEFER_MAX_MS)
  }

  return {
    track (file, replaces) {
      tracked.set(file, replaces)
      file.progress.onCommit = committed
    },
    untrack (file) {
      if (!tracked.has(file)) return
      record(file)
      tracked.delete(file)
      file.progress.onCommit = undefined
      retiring.push({ file, offset: file.progress.committed })
      kick()
    },
    flush,
    start () {
      if (timer !== undefined) return
      // Also catches positions moved without an acknowledgement (filtered and rejected lines).
      // Not unref'd: while a failing write holds the reader back, this timer keeps the process alive and retrying.
      timer = setInterval(kick, intervalMs)
    },
    quiet () {
      if (deferred !== undefined) kick()
    },
    async stop () {
      if (timer !== undefined) clearInterval(timer)
      if (deferred !== undefined) clearTimeout(deferred)
      deferred = undefined
      timer = undefined
      stopped = true
      await loop
      await flush()
    }
  }
}
