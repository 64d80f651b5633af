// Wires sources → line processor → sink for one run (read or tail), keeps checkpoints, and owns the order of shutdown.
import { closeSync, constants, open as openFd, openSync } from 'node:fs'
import { Socket } from 'node:net'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import type { Readable } from 'node:stream'
import { SourceProgress } from './ack/source-progress.js'
import { createDurableGate, type DurableGate } from './checkpoint/durable-gate.js'
import { inFlightLimit } from './sink/adaptive-concurrency.js'
import { CheckpointStore } from './checkpoint/store.js'
import { createCheckpointWriter, type CheckpointWriter, type TrackedFile } from './checkpoint/writer.js'
import type { Config } from './config/types.js'
import { errors, isForwardError } from './errors.js'
import { createLineProcessor, type LineProcessor } from './line-processor.js'
import type { Logger } from './log.js'
import { createRejectWriter, type RejectWriter } from './output/reject-file.js'
import { createDryRunSink } from './sink/dry-run-sink.js'
import type { DeliveryTuning } from './sink/matomo-sink.js'
import type { HitSink } from './sink/sink.js'
import { compilePatterns, describeUnmatched, expandInputs, STDIN } from './sources/expand-inputs.js'
import { FINGERPRINT_BYTES, hashHead, identityOf, isFullFingerprint, readHead } from './sources/fingerprint.js'
import { gunzipIfCompressed, gzipContentReaches, streamFromHandle } from './sources/read-file.js'
import { LineSplitter } from './sources/split-lines.js'
import { feedLines } from './sources/feed-lines.js'
import type { TailSet } from './sources/tail-set.js'
import { waitDrained } from './sources/wait-drained.js'
import { Summary } from './summary.js'

export interface ForwardOptions {
  config: Config
  logger: Logger
  stdin?: Readable
  stdout?: NodeJS.WritableStream
  /**
   * Aborting stops reading; hits already read are still delivered for up to `config.shutdownTimeoutMs`, then
   * the checkpoint (acknowledged lines only) and the summary are written.
   */
  signal?: AbortSignal
  /** Replaces the sink the config asks for (tests, programmatic use). */
  sink?: HitSink
  /** Counts into this summary (so a caller still has it when forward() throws). */
  summary?: Summary
  /** Retry and timer knobs of the Matomo sink (tests, benchmarks). */
  delivery?: DeliveryTuning
  /** Directory relative inputs are resolved against. @default process.cwd() */
  cwd?: string
  /** How often checkpoints are written. @default 1000 */
  checkpointIntervalMs?: number
  /** How long checkpoint writes may keep failing before the run stops. @default CHECKPOINT_GIVE_UP_MS */
  checkpointGiveUpMs?: number
  /** How often the state directory's lock is checked and refreshed (tests). @default LOCK_REFRESH_MS */
  lockRefreshMs?: number
}

export interface TailOptions extends ForwardOptions {
  /** How often open files are polled. @default 250 */
  pollIntervalMs?: number
  /** How long a rotated-away or deleted file must be idle before it is closed. @default 2000 */
  retireIdleMs?: number
}

/** What one run holds open, in the order it is closed. */
interface Run {
  readonly config: Config
  readonly logger: Logger
  readonly summary: Summary
  readonly sink: HitSink
  readonly rejects: RejectWriter | undefined
  readonly processor: LineProcessor
  readonly store: CheckpointStore | undefined
  readonly writer: CheckpointWriter | undefined
  /** The caller's signal, or a checkpoint writer that gave up (`fatal` then holds its error). */
  readonly signal: AbortSignal | undefined
  fatal: unknown
  /** Sources without a checkpoint (stdin), for the count of hits left in flight. */
  readonly untracked: SourceProgress[]
  readonly gate: DurableGate | undefined
  outstanding: () => number
}


/** A source without a checkpoint (stdin): its acknowledged hits count as durable at once. */
function untrackedSource (run: Run, name: string = STDIN): SourceProgress {
  const progress = new SourceProgress(name, 0)
  run.untracked.push(progress)
  const gate = run.gate
  if (gate !== undefined) progress.onCommit = () => { gate.durable(progress, progress.committed) }
  return progress
}

/** Runs `read` (or a dry run): every input once, in order, each file from its checkpoint. Throws ForwardError. */
export async function forward (options: ForwardOptions): Promise<Summary> {
  const { config } = options
  const expanded = await expandInputs(config.files, options.cwd ?? process.cwd())
  // Reported before any input is read: a cron job with a mistyped path fails loudly, not silently.
  if (expanded.unmatched.length > 0) {
    const cwd = options.cwd ?? process.cwd()
    throw errors.MF_ERR_SOURCE_NO_MATCH((await Promise.all(expanded.unmatched.map(async (given) => await describeUnmatched(given, cwd)))).join(', '))
  }
  const run = await openRun(options, expanded.inputs.some((input) => input !== STDIN))
  const tracked: TrackedFile[] = []
  run.outstanding = () => sumOutstanding(run.untracked) + sumOutstanding(tracked.map((t) => t.progress))
  let failure: unknown
  /** The first input that could not be read or classified: the others are still read; the run ends with its error. */
  let unreadable: unknown
  try {
    for (const [index, input] of expanded.inputs.entries()) {
      if (run.signal?.aborted === true) {
        // Files not reached are read by the next run; standard input or a pipe not reached is lost like a cut one.
        for (const rest of expanded.inputs.slice(index)) {
          if (rest === STDIN || (await stat(rest).catch(() => undefined))?.isFile() === false) run.summary.streamsStoppedEarly.push(streamName(rest))
        }
        break
      }
      try {
        if (input === STDIN) {
          await readUntrackedStream(run, options.stdin ?? process.stdin, STDIN)
        } else {
          await readFile(run, input, tracked)
        }
      } catch (err) {
        // One damaged or vanished file (a truncated .gz, a permission change), or one whose format --format auto
        // cannot tell, must not keep every later file, often the live log, from being read on every cron run.
        // What was read of it stays checkpointed (lines held for detection are not: read again next run).
        if (!isForwardError(err) || !PER_INPUT_ERRORS.has(err.code)) throw err
        // Reported at the end as the run's error; said now only if other inputs follow.
        if (index < expanded.inputs.length - 1) run.logger.error({ code: err.code, source: input }, `${err.message}; going on with the other inputs (the run will exit ${err.exitCode})`)
        unreadable ??= err
      }
    }
  } catch (err) {
    failure = err
  }
  failure ??= unreadable
  await finishRun(run, failure ?? run.fatal)
  return run.summary
}

/** Errors about one input of `read`: reported at the end, after the other inputs were read. */
const PER_INPUT_ERRORS: ReadonlySet<string> = new Set(['MF_ERR_SOURCE_UNREADABLE', 'MF_ERR_FORMAT_UNDETECTED'])

/** Runs `tail`: follows the files the patterns match until the signal aborts. Throws ForwardError. */
export async function tail (options: TailOptions): Promise<Summary> {
  const { config } = options
  const patterns = compilePatterns(config.files, options.cwd ?? process.cwd())
  const run = await openRun(options, patterns.length > 0)
  // Stops the other job when one fails (the files, or standard input read alongside them): the run must not
  // finish (final checkpoint, lock released) while one of them still reads and sends.
  const stop = new AbortController()
  const signal = run.signal === undefined ? stop.signal : AbortSignal.any([run.signal, stop.signal])
  // Loaded only to follow files: chokidar is not part of a `read`'s start-up.
  const { createTailSet } = await import('./sources/tail-set.js')
  const set: TailSet = createTailSet({
    patterns,
    deps: { processor: run.processor, sink: run.sink, maxLineBytes: config.maxLineBytes, logger: run.logger, writer: run.writer, signal, lineByLine: run.gate?.countsPushes === true },
    store: run.store,
    ignoreCheckpoints: config.ignoreCheckpoints,
    startAt: config.startAt,
    pollIntervalMs: options.pollIntervalMs,
    retireIdleMs: options.retireIdleMs
  })
  run.outstanding = () => sumOutstanding(run.untracked) + set.outstanding()
  let failure: unknown
  const stopOthers = (err: unknown): never => {
    failure ??= err
    stop.abort()
    throw err
  }
  const jobs: Array<Promise<unknown>> = [set.run(signal).catch(stopOthers)]
  if (config.files.includes(STDIN)) {
    // Standard input is read to its end alongside the files; it has no checkpoint.
    const progress = untrackedSource(run)
    jobs.push(readStream(run, gunzipIfCompressed(options.stdin ?? process.stdin), progress, 0, 0, signal).catch(stopOthers))
  }
  await Promise.allSettled(jobs)
  // A file whose format could not be told was left while the others were followed: the run ends with its error.
  failure ??= set.fileError
  try {
    await finishRun(run, failure ?? run.fatal)
  } finally {
    await set.close()
  }
  return run.summary
}

interface SinkDeps {
  stdout: NodeJS.WritableStream
  summary: Summary
  rejects: RejectWriter | undefined
  logger: Logger
  signal: AbortSignal | undefined
  tuning: DeliveryTuning | undefined
}

async function createSink (config: Config, deps: SinkDeps): Promise<HitSink> {
  if (config.dryRun) return createDryRunSink(deps.stdout)
  // Loaded only to send: the sender and its HTTP client are not part of a dry run's start-up.
  const { createMatomoSink } = await import('./sink/matomo-sink.js')
  return createMatomoSink({ config, summary: deps.summary, rejects: deps.rejects, logger: deps.logger, signal: deps.signal, tuning: deps.tuning })
}

async function openRun (options: ForwardOptions, hasFiles: boolean): Promise<Run> {
  const { config, logger } = options
  const summary = options.summary ?? new Summary()
  const rejectPath = config.rejectFile ?? (config.dryRun ? undefined : join(config.stateDir, 'rejects.ndjson'))
  const rejects = rejectPath === undefined ? undefined : createRejectWriter(rejectPath)
  // Stops the run like a signal when checkpoint writes keep failing: nothing more can be sent within the bound.
  const giveUp = new AbortController()
  const signal = options.signal === undefined ? giveUp.signal : AbortSignal.any([options.signal, giveUp.signal])
  const target = options.sink ?? await createSink(config, { stdout: options.stdout ?? process.stdout, summary, rejects, logger, signal, tuning: options.delivery })
  // A dry run neither reads nor writes checkpoints (and takes no lock): it must not change what a real run sends.
  const store = config.dryRun || !hasFiles
    ? undefined
    : await CheckpointStore.open(config.stateDir, {
      logger,
      discardDamaged: config.ignoreCheckpoints,
      onLockLost: (what) => {
        // Another run owns the state directory now: going on would send what it sends too.
        const error = errors.MF_ERR_CHECKPOINT_LOCKED(config.stateDir, `another run (${what}; this run was paused longer than the lock's life and stopped)`)
        run.fatal = error
        giveUp.abort(error)
      },
      lockRefreshMs: options.lockRefreshMs
    })
  let gate: DurableGate | undefined
  const writer = store === undefined
    ? undefined
    : createCheckpointWriter({
      store,
      rejects,
      logger,
      intervalMs: options.checkpointIntervalMs,
      onDurable: (progress, offset) => { gate?.durable(progress, offset) },
      deferWhile: () => (target.inFlight ?? 0) > 0,
      giveUpMs: options.checkpointGiveUpMs,
      onGiveUp: (err) => {
        const error = isForwardError(err) ? err : errors.MF_ERR_CHECKPOINT_WRITE(store.path, String((err as Error | undefined)?.message ?? err), { cause: err })
        run.fatal = error
        logger.error({ path: store.path }, `checkpoint writes keep failing: stopping; hits acknowledged since the last checkpoint on disk will be sent again by the next run (${error.message})`)
        // With the error as reason, the sender stops at once instead of waiting --shutdown-timeout-ms for room.
        giveUp.abort(error)
      }
    })
  if (writer !== undefined) target.onQuiet = () => { writer.quiet() }
  writer?.start()
  if (writer !== undefined) gate = createDurableGate(target, inFlightLimit(config))
  const sink: HitSink = gate ?? target
  const processor = createLineProcessor({ config, summary, sink, logger, rejects })
  const run: Run = { config, logger, summary, sink, rejects, processor, store, writer, signal, fatal: undefined, untracked: [], gate, outstanding: () => 0 }
  return run
}

/**
 * End of a run, in crash-safe order: let the sink answer what is in flight (bounded by --shutdown-timeout-ms
 * after an abort), write the final checkpoint (acknowledged lines only), close the reject file, release the
 * lock. The first error wins; the checkpoint is written whatever happened before.
 */
async function finishRun (run: Run, failure: unknown): Promise<void> {
  const problems: unknown[] = failure === undefined ? [] : [failure]
  try {
    if (run.signal?.aborted === true) {
      const ended = run.sink.end()
      ended.catch(() => undefined)
      // A sink that ended with an error (MF_ERR_SINK_STOPPED: its own shutdown timer passed) must fail the run.
      if (await settlesWithin(ended, run.config.shutdownTimeoutMs)) await ended
      else {
        const pending = run.outstanding()
        run.logger.warn({ pending, timeoutMs: run.config.shutdownTimeoutMs },
          `shutdown: ${pending} hits were still unanswered after ${run.config.shutdownTimeoutMs} ms; they are not checkpointed and will be sent again by the next run`)
      }
    } else {
      await run.sink.end()
    }
  } catch (err) {
    problems.push(err)
  }
  // Hits Matomo never answered (stopped, given up, cut off): counted, and the exit code says so. A sink that
  // does not send (tests) counts what was never acknowledged.
  run.summary.hitsPendingAtExit = run.sink.unanswered ?? Math.max(0, run.outstanding() - run.summary.linesHeldAtExit)
  try {
    await run.writer?.stop()
  } catch (err) {
    problems.push(err)
  }
  try {
    await run.rejects?.close()
  } catch (err) {
    problems.push(err)
  }
  try {
    await run.store?.close()
  } catch (err) {
    problems.push(err)
  }
  if (problems.length > 0) throw problems[0]
}

async function settlesWithin (promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => { resolve(false) }, ms) })
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}

function sumOutstanding (progresses: readonly SourceProgress[]): number {
  let n = 0
  for (const p of progresses) n += p.outstanding
  return n
}

/**
 * A named pipe (or a pipe given by name, as <(cmd) is): a stream with no checkpoint. Its open() blocks until a
 * writer comes, and reads through a file handle block while the writer is silent, each in a thread-pool thread
 * the process cannot exit without (SIGTERM, and a second one, hung). So: on a signal, a pending open is released
 * by opening the pipe for writing and closing it at once; the descriptor is then read through a libuv pipe
 * handle (net.Socket), which waits in the event loop and is destroyed at once on a signal.
 */
async function readFifo (run: Run, path: string): Promise<void> {
  const unblock = (): void => {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK))
    } catch {
      // No reader waiting (ENXIO), or no longer a FIFO: nothing to release.
    }
  }
  run.signal?.addEventListener('abort', unblock, { once: true })
  if (run.signal?.aborted === true) unblock()
  let fd: number
  try {
    fd = await new Promise<number>((resolve, reject) => { openFd(path, 'r', (err, n) => { if (err === null) resolve(n); else reject(err) }) })
  } catch (err) {
    throw errors.MF_ERR_SOURCE_UNREADABLE(path, (err as NodeJS.ErrnoException).code ?? (err as Error).message, { cause: err })
  } finally {
    run.signal?.removeEventListener('abort', unblock)
  }
  run.logger.info({ path }, `${path} is a pipe: read as a stream, without a checkpoint`)
  await readUntrackedStream(run, new Socket({ fd, readable: true, writable: false }), path)
}

/**
 * Standard input or another stream with no identity to resume by: read without a checkpoint (gzip detected by
 * its magic bytes). Stopped by a signal before its end, it is named in the summary: a stream cannot be resumed,
 * the rest of it is not read by any run.
 */
async function readUntrackedStream (run: Run, stream: Readable, name: string): Promise<void> {
  const end = await readStream(run, gunzipIfCompressed(stream), untrackedSource(run, name), 0, 0)
  if (end === undefined) run.summary.streamsStoppedEarly.push(streamName(name))
}

function streamName (name: string): string {
  return name === STDIN ? 'standard input' : name
}

/** Reads one file from its checkpoint up to the size it has now (later lines are for the next run). */
async function readFile (run: Run, path: string, tracked: TrackedFile[]): Promise<void> {
  const { config, logger, store } = run
  if ((await stat(path).catch(() => undefined))?.isFIFO() === true) {
    await readFifo(run, path)
    return
  }
  let handle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    throw errors.MF_ERR_SOURCE_UNREADABLE(path, (err as NodeJS.ErrnoException).code ?? (err as Error).message, { cause: err })
  }
  try {
    const ids = await handle.stat({ bigint: true })
    if (!ids.isFile()) {
      // A device such as /dev/stdin on a terminal (pipes went to readFifo): no size and no identity to resume by.
      // Read it like standard input (no checkpoint), never with positional reads, which a stream cannot do.
      logger.info({ path }, `${path} is not a regular file: read as a stream, without a checkpoint`)
      await readUntrackedStream(run, handle.createReadStream({ autoClose: false, highWaterMark: 256 * 1024 }), path)
      return
    }
    // The same file under two names (a symlink like current.log, a hard link) is read once per run: its first
    // reading has no checkpoint on disk yet, so a second one would start again at byte 0 and send it all twice.
    const dev = String(ids.dev)
    const ino = String(ids.ino)
    const same = tracked.find((t) => t.identity.dev === dev && t.identity.ino === ino)
    if (same !== undefined) {
      logger.info({ path, sameAs: same.path }, `${path} is the same file as ${same.path}, already read in this run: skipped`)
      return
    }
    const rawSize = Number(ids.size)
    const { head, gzip } = await readHead(handle)
    const match = config.ignoreCheckpoints || store === undefined ? undefined : store.find(ids, head)
    let start = match?.entry.offset ?? 0
    let line = match?.entry.line ?? 0
    let replaced = false
    if (match !== undefined && !gzip && start > rawSize) {
      if (match.by === 'inode') {
        logger.warn({ path, size: rawSize, checkpoint: start }, `${path} is shorter than its checkpoint: it was truncated; reading it from the start`)
        start = 0
        line = 0
      } else if (match.entry.path === path && !(await looksInProgress(handle, Number(ids.mtimeMs), rawSize))) {
        // This name's content was replaced by a new, finished file (another inode: sed -i, tmp + mv) that starts the
        // same but is shorter: read whole, as a truncated file is. Every line of it goes again (Matomo cannot tell
        // them from new hits), but none of them is lost. One still being written is left for a later run below.
        logger.warn({ path, size: rawSize, checkpoint: start }, `${path} was replaced by a shorter file with the same first bytes; reading it whole again (its ${rawSize} bytes are sent again)`)
        start = 0
        line = 0
        replaced = true
      } else {
        leaveUnfinishedCopy(run, path, rawSize, start, match.entry.path)
        return
      }
    }
    if (match?.by === 'inode' && gzip && start > 0 && match.entry.completeRawSize !== rawSize && !(await gzipContentReaches(handle, start))) {
      logger.warn({ path, checkpoint: start }, `${path} holds less than its checkpoint (${start} bytes decompressed): it was rewritten; reading it from the start`)
      start = 0
      line = 0
    }
    if (match !== undefined && start > 0) {
      logger.info({ path, offset: start, by: match.by }, `${path}: resuming at byte ${start}${match.by === 'content' ? ` (same content as ${match.entry.path})` : ''}`)
    }
    // The same content read earlier in this run under another name (a copy; access.log.1 beside the
    // access.log.1.gz logrotate is compressing): its checkpoint may not be on disk yet, so the store alone would
    // have this file send those lines again. Start where that reading is acknowledged, once all of it is answered:
    // starting where it was only read would checkpoint this file past lines still in flight, and if they failed
    // and the first file went away (logrotate deletes access.log.1 after compressing it), they would be lost.
    const twin = sameContentRead(tracked, head)
    if (!replaced && twin !== undefined && twin.progress.readTo.offset > start) {
      await waitAnswered(run, twin.progress)
      const done = twin.progress.committed
      if (!gzip && done > rawSize) {
        leaveUnfinishedCopy(run, path, rawSize, done, twin.path)
        return
      }
      if (done > start) {
        start = done
        line = twin.progress.committedLine
        logger.info({ path, offset: start, sameAs: twin.path }, `${path} has the same content as ${twin.path}, read in this run: starting at byte ${start}`)
      }
    }
    const progress = new SourceProgress(path, start, line)
    const file: TrackedFile = { identity: identityOf(ids, head), path, progress }
    tracked.push(file)
    run.writer?.track(file, match?.by === 'inode' ? match.entry : undefined)
    if (gzip && match?.by === 'inode' && match.entry.completeRawSize === rawSize) {
      // Finished before and unchanged since: not decompressed again.
      file.eof = { offset: start, rawSize }
      return
    }
    if (!gzip && start >= rawSize) {
      file.eof = { offset: start, rawSize }
      return
    }
    const stream = streamFromHandle(handle, gzip, start, gzip ? undefined : rawSize)
    let end: number | undefined
    try {
      end = await readStream(run, stream, progress, start, line, run.signal, gzip ? undefined : rawSize)
    } catch (err) {
      // A .gz that ends before its trailer and changed a moment ago is most likely still being written (logrotate
      // compressing access.log.1 while a cron run reads access.log*): what is there was read, the rest comes with
      // a later run. Older, it is damaged (cut by a full disk) and stays an error.
      if (!gzip || !isCutOffGzip(err)) throw err
      // Stated now, not at the open: the read may have taken long, and a file that changed since is being written.
      const now = await handle.stat({ bigint: true }).catch(() => ids)
      const ageMs = Date.now() - Number(now.mtimeMs)
      const changed = now.size !== ids.size || now.mtimeMs !== ids.mtimeMs
      if (!changed && !modifiedRecently(Number(now.mtimeMs))) throw err
      const when = ageMs < 0 ? 'has a modification time just ahead of this clock' : `was modified ${Math.round(ageMs / 1000)} s ago`
      logger.warn({ path, modifiedMsAgo: Math.round(ageMs) }, `${path} ends before its gzip trailer and ${when}: probably still being written; read up to there, the rest is read by a later run`)
      return
    }
    if (end !== undefined) file.eof = { offset: end, rawSize }
  } finally {
    await handle.close()
  }
}

/**
 * A file with the content of another but shorter than what that one covers is a copy still being made
 * (copytruncate, cp): everything in it was delivered under the other name, and its end may be mid-line, so it is
 * neither read nor checkpointed now (a checkpoint there would make the finished copy resume mid-line). A later run
 * matches the finished copy by content.
 */
function leaveUnfinishedCopy (run: Run, path: string, size: number, covered: number, other: string): void {
  run.logger.info({ path, size, sameAs: other, covered }, `${path} holds the start of ${other} (${size} of the ${covered} bytes delivered from it): a copy still being made? left for a later run`)
}

/** Modified recently, or its last byte is not a newline. */
async function looksInProgress (handle: FileHandle, mtimeMs: number, size: number): Promise<boolean> {
  if (modifiedRecently(mtimeMs)) return true
  if (size === 0) return false
  const last = Buffer.alloc(1)
  await handle.read(last, 0, 1, size - 1)
  return last[0] !== 0x0a
}

/** A file modified this recently may still be being written (a .gz that ends early is then not called damaged). */
const BEING_WRITTEN_MS = 60_000

/** Within BEING_WRITTEN_MS of now, either way: a clock a little ahead (a network file system) counts as recent. */
function modifiedRecently (mtimeMs: number): boolean {
  return Math.abs(Date.now() - mtimeMs) <= BEING_WRITTEN_MS
}

function isCutOffGzip (err: unknown): boolean {
  return ((err as { cause?: { code?: unknown } }).cause?.code) === 'Z_BUF_ERROR'
}

/** The file read furthest earlier in this run whose first FINGERPRINT_BYTES are `head`'s (the rule for a match by content). */
function sameContentRead (tracked: readonly TrackedFile[], head: Buffer): TrackedFile | undefined {
  if (head.length < FINGERPRINT_BYTES) return undefined
  const hash = hashHead(head.subarray(0, FINGERPRINT_BYTES))
  let best: TrackedFile | undefined
  for (const file of tracked) {
    if (!isFullFingerprint(file.identity) || file.identity.headHash !== hash) continue
    if (best === undefined || file.progress.readTo.offset > best.progress.readTo.offset) best = file
  }
  return best
}

/**
 * Sends what the sink holds, then waits until every hit of `progress` is answered, the run stops, or a batch's
 * time has passed (retries going on, or all-invalid answers held for a proof of the token, must not stall the
 * reader): the caller then starts at what is acknowledged, at the cost of duplicates of what was in flight.
 */
async function waitAnswered (run: Run, progress: SourceProgress): Promise<void> {
  let failure: { error: unknown } | undefined
  run.sink.stopped?.catch((error: unknown) => { failure = { error } })
  run.sink.flush?.() // its last batch goes now, not at its age flush
  const until = performance.now() + Math.min(30_000, run.config.flushIntervalMs + run.config.requestTimeoutMs)
  while (progress.outstanding > 0 && run.signal?.aborted !== true && performance.now() < until) {
    if (failure !== undefined) throw failure.error
    await delay(10)
  }
}

/**
 * Reads one input to its end, pausing while the sink is saturated. Resolves with the end offset, or
 * undefined when aborted or when the input ended before `expectedEnd` (a file truncated while it was read): then
 * a last line without newline is not processed, the file did not end there.
 */
async function readStream (run: Run, stream: Readable, progress: SourceProgress, start: number, line: number, signal = run.signal, expectedEnd?: number): Promise<number | undefined> {
  const { sink } = run
  const handler = run.processor.forSource(progress)
  const splitter = new LineSplitter(handler, { maxLineBytes: run.config.maxLineBytes, startOffset: start, startLine: line })
  const onAbort = (): void => { stream.destroy() }
  signal?.addEventListener('abort', onAbort, { once: true })
  // Already stopped (a signal while a pipe was being opened): a silent writer must not keep this read waiting.
  if (signal?.aborted === true) stream.destroy()
  try {
    const lineByLine = run.gate?.countsPushes === true
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      await feedLines(splitter, typeof chunk === 'string' ? Buffer.from(chunk) : chunk, sink, signal, lineByLine)
      if (sink.saturated) await waitDrained(sink, signal)
      if (signal?.aborted === true) break
    }
  } catch (err) {
    // An abort destroys the stream on purpose: the lines read so far are processed, the rest waits.
    if (signal?.aborted !== true) {
      handler.abandon()
      if ((err as { code?: string }).code?.startsWith('MF_ERR_') === true) throw err
      throw errors.MF_ERR_SOURCE_UNREADABLE(progress.name, (err as Error).message, { cause: err })
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
  if (signal?.aborted === true) {
    handler.abandon()
    return undefined
  }
  const shrunk = expectedEnd !== undefined && splitter.offsetEnd < expectedEnd
  if (shrunk) {
    // Truncated under us (copytruncate during a cron run): the bytes after the last newline are half a line. The
    // checkpoint stays before them; the next run finds the file shorter than it and reads the new content from 0.
    run.logger.warn({ path: progress.name, size: expectedEnd, readTo: splitter.offsetEnd },
      `${progress.name} shrank while it was read (it ended at byte ${splitter.offsetEnd} of ${expectedEnd}): truncated; its unfinished last line was left, and the next run reads the file from its start`)
  }
  try {
    if (!shrunk) splitter.end()
    handler.finish()
  } catch (err) {
    handler.abandon() // MF_ERR_FORMAT_UNDETECTED at the end: the held lines were never classified
    throw err
  }
  return shrunk ? undefined : splitter.lineStart
}
