// The tail runner: finds the files the patterns match, follows renames and deletions, and polls every open file.
import { watch, type FSWatcher } from 'chokidar'
import { open, stat } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { glob } from 'tinyglobby'
import type { CheckpointStore } from '../checkpoint/store.js'
import { compareRotation, describeUnmatched, type InputPattern } from './expand-inputs.js'
import { readHead } from './fingerprint.js'
import { countLines, FileTailer, MAX_BYTES_PER_POLL, lastLineEnd, type TailDeps } from './tail-file.js'

/** How often open files are checked for growth, truncation and rotation (fs events are lossy; this is not). */
export const TAIL_POLL_INTERVAL_MS = 250
/** A file renamed away or deleted is read until it has been idle this long (a writer may still append to it). */
export const TAIL_RETIRE_IDLE_MS = 2000
/** File system events wake the poll early, but polls stay at least this far apart. */
const MIN_POLL_GAP_MS = 50

export interface TailSetOptions {
  patterns: readonly InputPattern[]
  deps: TailDeps
  store: CheckpointStore | undefined
  ignoreCheckpoints: boolean
  startAt: 'beginning' | 'end'
  pollIntervalMs?: number
  retireIdleMs?: number
  /** Use chokidar to wake the poll on file system events. @default true */
  watch?: boolean
  now?: () => number
}

export interface TailedFileInfo {
  path: string
  position: number
  detached: boolean
}

export interface TailSet {
  /** One round: find files, notice renames and deletions, read what was appended, retire drained files. */
  poll: () => Promise<void>
  /** Polls until the signal aborts (and once at least). */
  run: (signal: AbortSignal | undefined) => Promise<void>
  /** Closes every descriptor and the watcher. Call after the final checkpoint was written. */
  close: () => Promise<void>
  /** Open files (tests, reports). */
  files: () => TailedFileInfo[]
  /** Hits read but not yet acknowledged, over every file. */
  outstanding: () => number
  /** The first error about one file only (its format could not be told): the others were followed on. */
  readonly fileError: unknown
}

type FoundFile = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs'>

export function createTailSet (options: TailSetOptions): TailSet {
  const { patterns, deps, store } = options
  /**
   * The state dir already holds checkpoints of files these patterns match: tail ran on them before, so a file
   * without a checkpoint appeared while it was stopped (a rotation during a restart) and is read whole;
   * --start-at end is for the very first start only, when existing files are history.
   */
  const followedBefore = store !== undefined && !options.ignoreCheckpoints &&
    store.list().some((entry) => patterns.some((pattern) => pattern.matches(entry.path)))
  const { logger } = deps
  const now = options.now ?? Date.now
  const pollIntervalMs = options.pollIntervalMs ?? TAIL_POLL_INTERVAL_MS
  const retireIdleMs = options.retireIdleMs ?? TAIL_RETIRE_IDLE_MS
  /** Open files by dev:ino: a rotated file is the same file under a new name. */
  const tailers = new Map<string, FileTailer>()
  /** Closed files whose hits are still in flight: their checkpoints are still moving. */
  const closing = new Set<FileTailer>()
  /**
   * Files not followed (gzip) by dev:ino, with the size and mtime they had, so they are not reopened at every
   * poll. A file with the same dev:ino but another size or mtime is looked at again: the gzip file may have been
   * deleted and its inode reused for a new log file (ext4 does so at once).
   */
  const skipped = new Map<string, string>()
  /**
   * Files (dev:ino) whose format --format auto could not tell, with their size then: not followed again in this
   * run unless they shrink (copytruncate, or a new file on a reused inode), which starts them anew.
   */
  const givenUp = new Map<string, number>()
  let fileError: unknown
  /** Size and mtime in whole milliseconds: scan() has float stats, openFile() bigint ones. */
  const versionOf = (size: number | bigint, mtimeMs: number | bigint): string => `${size}:${Math.floor(Number(mtimeMs))}`
  const warned = new Set<string>()
  let started = false

  const warnOnce = (key: string, message: string, err?: unknown): void => {
    if (warned.has(key)) return
    warned.add(key)
    logger.warn({ err }, message)
  }

  async function scan (): Promise<Map<string, FoundFile>> {
    const found = new Map<string, FoundFile>()
    for (const pattern of patterns) {
      let paths: string[]
      try {
        paths = pattern.isGlob
          ? await glob(pattern.pattern, { absolute: true, onlyFiles: true, dot: true, expandDirectories: false, followSymbolicLinks: true })
          : [pattern.pattern]
      } catch (err) {
        warnOnce(`glob:${pattern.given}`, `cannot list files for ${pattern.given}: ${(err as Error).message}`, err)
        continue
      }
      for (const path of paths) {
        if (found.has(path)) continue
        try {
          const info = await stat(path)
          if (info.isFile()) found.set(path, info)
        } catch {
          // Gone between listing and stat: the next poll sees the new state.
        }
      }
    }
    return found
  }

  async function openFile (path: string, expected: FoundFile, initial: boolean): Promise<void> {
    const expectedKey = `${expected.dev}:${expected.ino}`
    if (skipped.get(expectedKey) === versionOf(expected.size, expected.mtimeMs)) return
    const givenUpAt = givenUp.get(expectedKey)
    if (givenUpAt !== undefined) {
      if (expected.size >= givenUpAt) return
      givenUp.delete(expectedKey)
    }
    let handle
    try {
      handle = await open(path, 'r')
    } catch (err) {
      warnOnce(`open:${path}:${expectedKey}`, `cannot open ${path}: ${(err as Error).message}`, err)
      return
    }
    try {
      const ids = await handle.stat({ bigint: true })
      const key = `${ids.dev}:${ids.ino}`
      // The path may have been rotated between stat and open: never open a file that is already followed.
      if (tailers.has(key) || skipped.get(key) === versionOf(ids.size, ids.mtimeMs)) {
        await handle.close()
        return
      }
      const { head, gzip } = await readHead(handle)
      if (gzip) {
        logger.info({ path }, `${path} is gzip-compressed; tail follows plain files only (use read for it)`)
        skipped.set(key, versionOf(ids.size, ids.mtimeMs))
        await handle.close()
        return
      }
      const size = Number(ids.size)
      const match = options.ignoreCheckpoints || store === undefined ? undefined : store.find(ids, head)
      let offset: number
      let line = 0
      if (match !== undefined) {
        offset = match.entry.offset
        line = match.entry.line
        if (offset > size && match.by === 'inode') {
          logger.warn({ path, size, checkpoint: offset }, `${path} is shorter than its checkpoint: it was truncated; reading it from the start`)
          offset = 0
          line = 0
        } else if (offset > size) {
          // A copy of a file we had read further: all of it is done.
          offset = await lastLineEnd(handle, size)
        }
        logger.info({ path, offset, by: match.by }, `${path}: resuming at byte ${offset}${match.by === 'content' ? ` (same content as ${match.entry.path})` : ''}`)
      } else if (initial && options.startAt === 'end' && !followedBefore) {
        offset = await lastLineEnd(handle, size)
        line = await countLines(handle, offset, deps.signal)
        logger.info({ path, offset, line }, `${path}: no checkpoint, starting at its end (byte ${offset}, after line ${line}; --start-at beginning reads it whole)`)
      } else {
        offset = 0
        const why = !initial ? 'new file' : followedBefore && options.startAt === 'end' ? 'no checkpoint, but these files were followed before: it appeared while tail was stopped' : 'no checkpoint'
        logger.info({ path }, `${path}: ${why}, reading from the beginning`)
      }
      const tailer = new FileTailer({ path, handle, ids, head, offset, line, now: now(), resumed: match?.by === 'inode' ? match.entry : undefined }, deps)
      tailers.set(key, tailer)
    } catch (err) {
      await handle.close().catch(() => undefined)
      if ((err as { code?: string }).code?.startsWith('MF_ERR_') === true) throw err
      // A read error on one file (EIO, a file replaced under us) must not stop the others: the next poll tries again.
      warnOnce(`open:${path}:${expectedKey}`, `cannot read ${path}: ${(err as Error).message}`, err)
    }
  }

  async function poll (): Promise<void> {
    const initial = !started
    started = true
    const found = await scan()
    if (initial) {
      // Not an error (the file may appear later, and is then read from its start), but say so: a mistyped
      // path would otherwise wait in silence.
      for (const pattern of patterns) {
        if (![...found.keys()].some((path) => pattern.matches(path))) {
          // "logs (a directory: name its files, e.g. logs/*.log)", in the user's own terms.
          const named = (await describeUnmatched(pattern.pattern, '/')).replaceAll(pattern.pattern, pattern.given)
          logger.warn({ pattern: pattern.given }, `no file matches ${named} yet; waiting for one to appear`)
        }
      }
    }
    const pathByKey = new Map<string, string>()
    for (const [path, info] of found) pathByKey.set(`${info.dev}:${info.ino}`, path)
    for (const key of skipped.keys()) if (!pathByKey.has(key)) skipped.delete(key)
    for (const key of givenUp.keys()) if (!pathByKey.has(key)) givenUp.delete(key)

    for (const tailer of tailers.values()) {
      const here = found.get(tailer.path)
      if (here !== undefined && `${here.dev}:${here.ino}` === tailer.key) {
        tailer.detachedAt = undefined
        continue
      }
      const moved = pathByKey.get(tailer.key)
      if (moved !== undefined) {
        tailer.rename(moved)
        tailer.detachedAt = undefined
      } else if (tailer.detachedAt === undefined) {
        tailer.detachedAt = now()
        logger.info({ path: tailer.path }, `${tailer.path} was rotated away or deleted; reading it to its end`)
      }
    }

    // Files found for the first time are opened before any is read, in rotation order (oldest first), so that
    // each gets its share of this round (a backlog in one file must not keep the others waiting).
    for (const [path, info] of [...found].sort(([a], [b]) => compareRotation(a, b))) {
      if (deps.signal?.aborted === true) return
      if (tailers.has(`${info.dev}:${info.ino}`)) continue
      await openFile(path, info, initial)
    }

    // A rotated file is drained through its descriptor, to its end, before the file at its old name is read:
    // a visitor's hits keep their order across the rotation. Followed files then get MAX_BYTES_PER_POLL each.
    const ordered = [...tailers.values()].sort((a, b) => (a.detachedAt === undefined ? 1 : 0) - (b.detachedAt === undefined ? 1 : 0))
    for (const tailer of ordered) {
      await pollOne(tailer)
      if (deps.signal?.aborted === true) return
    }

    for (const tailer of ordered) {
      if (tailer.detachedAt === undefined || !tailer.atEof) continue
      if (now() - Math.max(tailer.lastGrowthAt, tailer.detachedAt) < retireIdleMs) continue
      // One last read right before closing: the writer may have appended since this file's poll (nginx writes
      // to the rotated file until it reopens its logs), and other files' polls may have taken long.
      if (await pollOne(tailer) || !tailer.atEof) continue
      if (deps.signal?.aborted === true) return
      logger.info({ path: tailer.path, offset: tailer.position }, `done with ${tailer.path} (rotated away or deleted, read to its end)`)
      tailers.delete(tailer.key)
      closing.add(tailer)
      try {
        await tailer.close(true)
      } catch (err) {
        if (!isFileOnlyError(err)) throw err
        giveUp(tailer, err)
      }
    }
    for (const tailer of closing) if (tailer.release()) closing.delete(tailer)
  }

  /**
   * A file whose format --format auto cannot tell (an app's own log with request-like lines, a layout no format
   * knows) stops being followed; the daemon goes on with the others and ends with that error when stopped. Its
   * lines from the first held one are read again by the next run (given --format).
   */
  function giveUp (tailer: FileTailer, err: unknown): void {
    fileError ??= err
    givenUp.set(tailer.key, tailer.position)
    if (tailers.delete(tailer.key)) {
      closing.add(tailer)
      tailer.close(false).catch(() => undefined)
    }
    logger.error({ code: (err as { code?: string }).code, path: tailer.path }, `${(err as Error).message}; no longer following ${tailer.path} in this run (the other files are followed on)`)
  }

  /** Polls one file; true when it grew. A read error is warned about once (and retried at the next poll). */
  async function pollOne (tailer: FileTailer): Promise<boolean> {
    try {
      return await tailer.poll(now, tailer.detachedAt === undefined ? MAX_BYTES_PER_POLL : Number.POSITIVE_INFINITY)
    } catch (err) {
      if (isFileOnlyError(err)) {
        giveUp(tailer, err)
        return false
      }
      if ((err as { code?: string }).code?.startsWith('MF_ERR_') === true) throw err
      warnOnce(`poll:${tailer.key}:${(err as Error).message}`, `cannot read ${tailer.path}: ${(err as Error).message}`, err)
      return false
    }
  }

  let closed = false
  let watcher: FSWatcher | undefined
  let wake: (() => void) | undefined
  let woken = false

  const onEvent = (): void => {
    woken = true
    wake?.()
  }

  async function sleep (ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted === true) return
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal?.addEventListener('abort', done, { once: true })
      wake = () => {
        // An event wakes the loop early, but not sooner than MIN_POLL_GAP_MS after the last poll.
        clearTimeout(timer)
        setTimeout(done, MIN_POLL_GAP_MS)
        wake = undefined
      }
      if (woken) wake()
    })
  }

  function startWatcher (): void {
    const dirs = new Map<string, boolean>()
    for (const p of patterns) dirs.set(p.base, (dirs.get(p.base) ?? false) || p.deep)
    if (dirs.size === 0) return
    watcher = watch([...dirs.keys()], { ignoreInitial: true, depth: [...dirs.values()].some(Boolean) ? undefined : 0, persistent: false })
    watcher.on('all', onEvent)
    watcher.on('error', (err) => { warnOnce('watch', `file watcher error (polling continues): ${(err as Error).message}`, err) })
  }

  return {
    poll,
    async run (signal) {
      if (options.watch !== false) startWatcher()
      await poll()
      // Positions chosen at start (--start-at end) are durable at once: a crash right after start loses nothing.
      await deps.writer?.flush()
      // close() also ends the loop: after it, nothing may be opened or read again.
      const aborted = (): boolean => signal?.aborted === true || closed
      while (!aborted()) {
        woken = false
        // A file that stopped at its share of a round (a backlog) is read on at once, not after the interval.
        if ([...tailers.values()].some((t) => t.hitLimit)) await new Promise((resolve) => { setImmediate(resolve) })
        else await sleep(pollIntervalMs, signal)
        if (aborted()) break
        await poll()
      }
    },
    async close () {
      closed = true
      wake?.()
      await watcher?.close()
      watcher = undefined
      for (const tailer of tailers.values()) await tailer.close(false).catch(() => undefined)
      for (const tailer of closing) tailer.release()
      for (const tailer of tailers.values()) tailer.release()
      tailers.clear()
      closing.clear()
    },
    files () {
      return [...tailers.values()].map((t) => ({ path: t.path, position: t.position, detached: t.detachedAt !== undefined }))
    },
    outstanding () {
      let n = 0
      for (const t of tailers.values()) n += t.outstanding
      for (const t of closing) n += t.outstanding
      return n
    },
    get fileError () {
      return fileError
    }
  }
}

/** Errors about one followed file only: the others are followed on. */
function isFileOnlyError (err: unknown): boolean {
  return (err as { code?: string }).code === 'MF_ERR_FORMAT_UNDETECTED'
}
