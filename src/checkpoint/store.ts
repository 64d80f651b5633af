// The checkpoint store of one --state-dir: per file identity, the offset below which every line is done; versioned, atomic, locked.
import { closeSync, fsyncSync, openSync, readFileSync, readlinkSync, realpathSync, renameSync, writeFileSync } from 'node:fs'
import { link, open, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { errors } from '../errors.js'
import { makeDirs } from '../output/make-dirs.js'
import type { Logger } from '../log.js'
import { CheckpointJournal, JOURNAL_FILE, readJournal } from './journal.js'
import { FINGERPRINT_BYTES, hashHead, headMatches, identityKey, isFullFingerprint, type FileIdentity, type FileStatIds } from '../sources/fingerprint.js'

export const CHECKPOINT_FILE = 'checkpoints.json'
export const LOCK_FILE = 'lock'
export const CHECKPOINT_VERSION = 1
/** Entries of files no run has looked at for this long are dropped (a year of daily rotations stays small). */
export const CHECKPOINT_EXPIRY_MS = 30 * 24 * 3600 * 1000
/**
 * checkpoints.json is rewritten (temp file + rename) at most this often; durable writes in between go to the
 * journal (journal.ts), and the last write of a run always goes to checkpoints.json.
 */
export const MAIN_WRITE_INTERVAL_MS = 1000
/** An empty lock file younger than this belongs to a process that is still writing its pid into it. */
const EMPTY_LOCK_GRACE_MS = 10_000
/** The holder touches its lock file this often, so that a lock from another host can be judged by its age... */
export const LOCK_REFRESH_MS = 5_000
/** ...and is stale once it has not been touched for this long. */
export const LOCK_STALE_MS = 30_000
/** Lock files this process holds: a second store of the same process is refused, never taken over. */
const HELD_LOCKS = new Set<string>()

/** One file's progress. Keyed by identity, not path: a renamed (rotated) file keeps its checkpoint. */
export interface CheckpointEntry extends FileIdentity {
  /** Every line before this byte offset is done (acknowledged, filtered or rejected). Decompressed bytes for gzip. */
  offset: number
  /** Lines before `offset`, for line numbers in reports (0 when unknown). */
  line: number
  /** Where the file was last seen, for humans; never used to match. */
  path: string
  /** ISO time of the last change, or of the first look in a run (drives expiry). */
  updatedAt: string
  /**
   * The file's size on disk when every line of it was done. A gzip file of that size is finished and is
   * skipped without decompressing it again.
   */
  completeRawSize?: number
}

export interface CheckpointFileV1 {
  version: 1
  /** Increases with every write: tells which of the main and the temp file is newer. */
  seq: number
  writtenAt: string
  sources: CheckpointEntry[]
}

export interface CheckpointPosition {
  offset: number
  line: number
  path: string
  completeRawSize?: number
}

export interface CheckpointMatch {
  entry: Readonly<CheckpointEntry>
  /** 'inode': same dev+ino and same head. 'content': same full head only (the file was copied or recompressed). */
  by: 'inode' | 'content'
}

export interface CheckpointStoreOptions {
  logger?: Logger
  now?: () => number
  expiryMs?: number
  /** @default MAIN_WRITE_INTERVAL_MS; 0 writes every state to checkpoints.json (no journal). */
  mainWriteIntervalMs?: number
  /**
   * --ignore-checkpoints: a damaged checkpoints.json or unreadable journal is moved aside (kept for a look) and
   * the start goes on without it, instead of MF_ERR_CHECKPOINT_CORRUPT. @default false
   */
  discardDamaged?: boolean
  /**
   * Called once when this store's lock file is found taken over or removed while it runs (after a pause longer
   * than LOCK_STALE_MS another process may have judged it stale): the run must stop. From then on the store
   * writes nothing, the state belongs to the other process.
   */
  onLockLost?: (what: string) => void
  /** @default LOCK_REFRESH_MS (tests) */
  lockRefreshMs?: number
}

type ReadResult = { kind: 'missing' } | { kind: 'invalid', reason: string } | { kind: 'ok', data: CheckpointFileV1 }

export class CheckpointStore {
  readonly dir: string
  readonly path: string
  readonly lockPath: string
  readonly journalPath: string
  private readonly entries = new Map<string, CheckpointEntry>()
  /** Keys set at least once by this process: their updatedAt has been refreshed. */
  private readonly touched = new Set<string>()
  private seq = 0
  /** The seq of checkpoints.json on disk: journal records are written on top of it. */
  private mainSeq = 0
  /** When checkpoints.json was last written (performance.now()); -Infinity: the next write goes there. */
  private mainWrittenAt = -Infinity
  private journal: CheckpointJournal | undefined
  private journalWarned = false
  /** The last state written (to either file), for the final checkpoints.json at close. */
  private lastWritten: CheckpointFileV1 | undefined
  private readonly mainWriteIntervalMs: number
  private changed = false
  private writing: Promise<unknown> = Promise.resolve()
  private closed = false
  private readonly logger: Logger | undefined
  private readonly now: () => number
  private readonly expiryMs: number
  private readonly discardDamaged: boolean
  private lockRefresh: NodeJS.Timeout | undefined
  private readonly lockRefreshMs: number
  private readonly onLockLost: ((what: string) => void) | undefined
  /** Another process took the lock over while this store ran: it writes nothing more. */
  private lockLost = false
  /** What this store wrote into the lock file. */
  private lockContent: string | undefined

  private constructor (dir: string, options: CheckpointStoreOptions) {
    this.dir = dir
    this.path = join(dir, CHECKPOINT_FILE)
    this.lockPath = join(dir, LOCK_FILE)
    this.journalPath = join(dir, JOURNAL_FILE)
    this.mainWriteIntervalMs = options.mainWriteIntervalMs ?? MAIN_WRITE_INTERVAL_MS
    this.logger = options.logger
    this.now = options.now ?? Date.now
    this.expiryMs = options.expiryMs ?? CHECKPOINT_EXPIRY_MS
    this.discardDamaged = options.discardDamaged ?? false
    this.lockRefreshMs = options.lockRefreshMs ?? LOCK_REFRESH_MS
    this.onLockLost = options.onLockLost
  }

  /**
   * Creates the state directory if needed, takes its lock (MF_ERR_CHECKPOINT_LOCKED if another live process
   * holds it) and loads the checkpoints (MF_ERR_CHECKPOINT_CORRUPT if they cannot be recovered).
   */
  static async open (dir: string, options: CheckpointStoreOptions = {}): Promise<CheckpointStore> {
    const store = new CheckpointStore(dir, options)
    try {
      makeDirs(dir, 0o700)
    } catch (err) {
      throw errors.MF_ERR_CHECKPOINT_WRITE(dir, (err as Error).message, { cause: err })
    }
    await store.lock()
    try {
      await store.load()
    } catch (err) {
      await store.unlock()
      throw err
    }
    return store
  }

  get size (): number {
    return this.entries.size
  }

  /** Whether there are changes not yet on disk. */
  get dirty (): boolean {
    return this.changed
  }

  /** Every entry, for reports and tests. */
  list (): Array<Readonly<CheckpointEntry>> {
    return [...this.entries.values()]
  }

  /**
   * The checkpoint of the file with these ids whose content starts with `head`. Falls back to a checkpoint
   * with the same full head on another inode (the file was copied, or rotated and compressed).
   */
  find (ids: FileStatIds, head: Buffer): CheckpointMatch | undefined {
    const dev = String(ids.dev)
    const ino = String(ids.ino)
    let best: CheckpointEntry | undefined
    for (const entry of this.entries.values()) {
      if (entry.dev !== dev || entry.ino !== ino || !headMatches(entry, head)) continue
      if (best === undefined || entry.headBytes > best.headBytes || (entry.headBytes === best.headBytes && entry.updatedAt > best.updatedAt)) best = entry
    }
    if (best !== undefined) return { entry: best, by: 'inode' }
    if (head.length < FINGERPRINT_BYTES) return undefined
    // Only a full-length head is trusted on its own: short heads ({"level":30,...) are too alike.
    const hash = hashHead(head.subarray(0, FINGERPRINT_BYTES))
    for (const entry of this.entries.values()) {
      if (!isFullFingerprint(entry) || entry.headHash !== hash) continue
      if (best === undefined || entry.updatedAt > best.updatedAt) best = entry
    }
    return best === undefined ? undefined : { entry: best, by: 'content' }
  }

  /**
   * Records a file's position. `replaces` is the same file's earlier, shorter fingerprint: its entry is
   * removed so a growing file keeps one entry.
   */
  set (identity: FileIdentity, position: CheckpointPosition, replaces?: FileIdentity): void {
    const key = identityKey(identity)
    if (replaces !== undefined) {
      const old = identityKey(replaces)
      if (old !== key && this.entries.delete(old)) this.changed = true
    }
    const current = this.entries.get(key)
    const firstTouch = !this.touched.has(key)
    if (current !== undefined && !firstTouch && current.offset === position.offset && current.line === position.line && current.path === position.path &&
      current.completeRawSize === position.completeRawSize) return
    this.touched.add(key)
    this.entries.set(key, {
      dev: identity.dev,
      ino: identity.ino,
      headBytes: identity.headBytes,
      headHash: identity.headHash,
      offset: position.offset,
      line: position.line,
      path: position.path,
      updatedAt: new Date(this.now()).toISOString(),
      ...(position.completeRawSize === undefined ? {} : { completeRawSize: position.completeRawSize })
    })
    this.changed = true
  }

  /** Writes the checkpoints if anything changed since the last write. Resolves true when it wrote. */
  async write (): Promise<boolean> {
    const run = this.writing.then(async () => await this.writeNow())
    this.writing = run.catch(() => undefined)
    return await run
  }

  /**
   * Waits for a write in progress, brings checkpoints.json up to the last state written to the journal, and
   * releases the lock. The store must not be used afterwards.
   */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.writing
    if (this.seq > this.mainSeq && this.lastWritten !== undefined && !this.lockLost) {
      try {
        this.writeMain(this.lastWritten)
      } catch (err) {
        // Nothing is lost: the journal holds this state, and the next run loads it from there.
        this.logger?.warn({ err, path: this.path }, `could not bring ${this.path} up to date at exit: ${(err as Error).message}; the next run reads the state from ${this.journalPath}`)
      }
    }
    this.journal?.close()
    this.journal = undefined
    await this.unlock()
  }

  private async writeNow (): Promise<boolean> {
    if (!this.changed || this.lockLost) return false
    this.expire()
    const data: CheckpointFileV1 = {
      version: CHECKPOINT_VERSION,
      seq: this.seq + 1,
      writtenAt: new Date(this.now()).toISOString(),
      sources: [...this.entries.values()].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
    }
    // A failed write marks the store dirty again: the next write retries.
    this.changed = false
    const now = performance.now()
    const journal = this.journal
    if (journal !== undefined && now - this.mainWrittenAt < this.mainWriteIntervalMs) {
      const text = JSON.stringify(data)
      if (journal.fits(Buffer.byteLength(text))) {
        try {
          await journal.write({ base: this.mainSeq, seq: data.seq, text })
        } catch (err) {
          this.changed = true
          throw errors.MF_ERR_CHECKPOINT_WRITE(this.journalPath, (err as Error).message, { cause: err })
        }
        this.seq = data.seq
        this.lastWritten = data
        return true
      }
    }
    let text: string
    try {
      text = this.writeMain(data)
    } catch (err) {
      this.changed = true
      throw errors.MF_ERR_CHECKPOINT_WRITE(this.path, (err as Error).message, { cause: err })
    }
    this.seq = data.seq
    this.lastWritten = data
    this.mainWrittenAt = now
    if (this.mainWriteIntervalMs > 0 && (journal === undefined || !journal.fits(2 * Buffer.byteLength(text)))) this.openJournal(text)
    return true
  }

  /**
   * Writes checkpoints.json. Crash safety: the temp file is complete and on disk before it replaces the main
   * file, and the rename itself is made durable by syncing the directory. A crash at any point leaves a valid
   * main file, or a valid temp file that load() prefers because its seq is higher. Synchronous on purpose: as
   * six async steps, each waited behind the reader's chunk parsing while the next batches waited for this write
   * (the send budget): 19 ms median at --concurrency 16 (bench/README.md).
   */
  private writeMain (data: CheckpointFileV1): string {
    const tmp = this.path + '.tmp'
    const text = JSON.stringify(data, null, 1) + '\n'
    const fd = openSync(tmp, 'w', 0o600)
    try {
      writeFileSync(fd, text)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.path)
    syncDir(this.dir)
    this.mainSeq = data.seq
    return text
  }

  /** (Re)creates the journal, sized for states twice this one. Without one, every write goes to checkpoints.json. */
  private openJournal (stateText: string): void {
    this.journal?.close()
    this.journal = undefined
    try {
      this.journal = CheckpointJournal.create(this.journalPath, () => { syncDir(this.dir) }, Buffer.byteLength(stateText))
    } catch (err) {
      // Tried again after the next checkpoints.json write; said once.
      if (!this.journalWarned) this.logger?.warn({ err, path: this.journalPath }, `cannot create ${this.journalPath} (${(err as Error).message}); checkpoints go to ${this.path} only, which is slower`)
      this.journalWarned = true
    }
  }

  private expire (): void {
    const limit = new Date(this.now() - this.expiryMs).toISOString()
    for (const [key, entry] of this.entries) {
      if (!this.touched.has(key) && entry.updatedAt < limit) this.entries.delete(key)
    }
  }

  private async load (): Promise<void> {
    let state = readStoredState(this.dir)
    // At most twice: a damaged journal moved aside leaves checkpoints.json; a damaged checkpoints.json moved
    // aside leaves nothing the journal could apply to.
    for (let pass = 0; state.problem !== undefined && this.discardDamaged && pass < 2; pass++) {
      await this.moveAside(state.problem)
      state = readStoredState(this.dir)
    }
    if (state.problem !== undefined) throw errors.MF_ERR_CHECKPOINT_CORRUPT(state.problem.path, state.problem.reason)
    if (state.from === 'tmp') {
      this.logger?.warn({ path: this.path }, `recovered checkpoints from ${this.path}.tmp (the last write was interrupted)`)
    } else if (state.from === 'journal') {
      this.logger?.info({ path: this.journalPath }, `resumed from ${this.journalPath}, which is newer than ${this.path} (the last run did not exit cleanly)`)
    } else if (state.ignoredTmp !== undefined) {
      // The very first write was interrupted: nothing was ever recorded, so starting empty loses nothing.
      this.logger?.warn({ path: this.path }, `ignoring the incomplete ${this.path}.tmp left by an interrupted first write (${state.ignoredTmp})`)
    }
    const data = state.data
    if (data === undefined) return
    // A recovered state is written again at once (to checkpoints.json: the journal is recreated after it).
    if (state.from !== 'main') this.changed = true
    this.seq = data.seq
    this.mainSeq = state.from === 'main' ? data.seq : 0
    for (const entry of data.sources) this.entries.set(identityKey(entry), entry)
  }

  /** Renames a damaged state file to `<name>.damaged-<time>` (never deleted: it may be worth a look). */
  private async moveAside (problem: { path: string, reason: string }): Promise<void> {
    const aside = `${problem.path}.damaged-${new Date(this.now()).toISOString().replace(/[:.]/g, '-')}`
    try {
      await rename(problem.path, aside)
    } catch (err) {
      throw errors.MF_ERR_CHECKPOINT_WRITE(problem.path, `cannot move the damaged file aside: ${(err as Error).message}`, { cause: err })
    }
    this.logger?.warn({ path: problem.path, movedTo: aside }, `--ignore-checkpoints: ${problem.path} is damaged (${problem.reason}); moved it to ${aside} and went on without it`)
  }

  private async lock (): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const text = lockText()
        await createWithContent(this.lockPath, text)
        this.lockContent = text
        HELD_LOCKS.add(this.lockKey())
        // Touched now and then: a lock seen from another host or namespace is judged by its age. Read first: a
        // lock that is no longer ours means another run took over (this one was paused too long), so stop.
        this.lockRefresh = setInterval(() => { void this.refreshLock() }, this.lockRefreshMs)
        this.lockRefresh.unref()
        return
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw errors.MF_ERR_CHECKPOINT_WRITE(this.lockPath, (err as Error).message, { cause: err })
      }
      const holder = await readLockHolder(this.lockPath)
      if (holder === 'gone') continue
      if (holder === 'starting') throw errors.MF_ERR_CHECKPOINT_LOCKED(this.dir, `that is starting (empty lock file ${this.lockPath})`)
      const stale = holder === 'garbage' ? 'unreadable' : staleReason(holder, HELD_LOCKS.has(this.lockKey()))
      if (stale === undefined && holder !== 'garbage') {
        const where = judgedByAge(holder) ? ` on host ${holder.host ?? '?'}${holder.ns !== undefined && holder.ns !== pidNamespace() ? ` in another pid namespace (a container)` : ''}; taken over once not refreshed for ${LOCK_STALE_MS / 1000} s` : ''
        throw errors.MF_ERR_CHECKPOINT_LOCKED(this.dir, `${holder.pid}${where} (lock file ${this.lockPath}; if that process is not matomo-forward, delete the lock file)`)
      }
      // The holder died without releasing the lock (kill -9, power loss, a restarted container). Two processes
      // taking over the same stale lock at the same instant could both succeed (two starts within milliseconds
      // of each other after a crash); the loser finds the lock not its own at its first refresh, and stops.
      const pid = holder === 'garbage' ? 'unknown' : String(holder.pid)
      this.logger?.warn({ lock: this.lockPath, pid }, `taking over the stale lock of process ${pid} (${stale ?? 'unreadable'})`)
      await unlink(this.lockPath).catch(ignoreMissing)
    }
    throw errors.MF_ERR_CHECKPOINT_LOCKED(this.dir, `unknown (lock file ${this.lockPath} keeps changing)`)
  }

  private async refreshLock (): Promise<void> {
    if (this.lockLost) return
    let text: string | undefined
    try {
      text = await readFile(this.lockPath, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return // unreadable now: tried again next time
    }
    if (this.closed || this.lockRefresh === undefined) return
    if (text === this.lockContent) {
      const now = new Date()
      await utimes(this.lockPath, now, now).catch(() => undefined)
      return
    }
    this.lockLost = true
    const what = text === undefined ? `its lock file ${this.lockPath} was removed` : `its lock file ${this.lockPath} now names process ${text.trim().split(/\s+/)[0] ?? '?'}`
    this.logger?.error({ lock: this.lockPath }, `${what}: another run took over this state directory; stopping, and writing no more checkpoints here`)
    this.onLockLost?.(what)
  }

  private async unlock (): Promise<void> {
    if (this.lockRefresh !== undefined) clearInterval(this.lockRefresh)
    this.lockRefresh = undefined
    const key = this.lockKey()
    if (!HELD_LOCKS.has(key)) return
    HELD_LOCKS.delete(key)
    // Only the lock this store wrote: one taken over meanwhile (after a long pause) belongs to someone else.
    const text = await readFile(this.lockPath, 'utf8').catch(() => undefined)
    if (text !== undefined && text === this.lockContent) await unlink(this.lockPath).catch(ignoreMissing)
  }

  /** The lock's identity for HELD_LOCKS: the real path, so that a symlinked or relative state dir is the same lock. */
  private lockKey (): string {
    try {
      return join(realpathSync(this.dir), LOCK_FILE)
    } catch {
      return this.lockPath
    }
  }
}

/**
 * Who wrote a lock file: `pid host boot-id start-time pid-namespace` (fields after the pid are `-` when unknown,
 * absent in files of earlier versions).
 */
interface LockHolder {
  pid: number
  host: string | undefined
  boot: string | undefined
  start: string | undefined
  ns: string | undefined
  mtimeMs: number
}

function lockText (): string {
  return `${process.pid} ${hostname() || '-'} ${bootId() ?? '-'} ${procStat(process.pid)?.start ?? '-'} ${pidNamespace() ?? '-'}\n`
}

/**
 * A holder whose process this one cannot see: on another host, or in another pid namespace (a container sharing
 * the host's name, host networking): its pid means nothing here, so the lock is judged by its age.
 */
function judgedByAge (holder: LockHolder): boolean {
  if (holder.host !== undefined && holder.host !== hostname()) return true
  const ns = pidNamespace()
  return holder.ns !== undefined && ns !== undefined && holder.ns !== ns
}

/** Linux's id of this process's pid namespace ("pid:[4026531836]"); undefined elsewhere. */
const pidNamespace = readOnce(() => readlinkSync('/proc/self/ns/pid').replace(/\s/g, ''))

/**
 * Why the holder of a lock no longer runs, or undefined when it may: another host's lock by its age (its
 * processes cannot be seen); then a reboot (boot id), our own pid (a restarted container is pid 1 again, and
 * this process does not hold the lock), a pid that does not run, a zombie (killed, not yet reaped by a slow
 * init), a pid reused by a process started at another time.
 */
function staleReason (holder: LockHolder, heldHere: boolean): string | undefined {
  if (judgedByAge(holder)) {
    const age = Date.now() - holder.mtimeMs
    return age > LOCK_STALE_MS ? `written on host ${holder.host ?? '?'} or in another pid namespace, not refreshed for ${Math.round(age / 1000)} s` : undefined
  }
  const boot = bootId()
  if (holder.boot !== undefined && boot !== undefined && holder.boot !== boot) return 'written before the last reboot'
  if (holder.pid === process.pid) return heldHere ? undefined : 'written by an earlier process with this pid (a restarted container)'
  if (!isAlive(holder.pid)) return 'no longer running'
  const stat = procStat(holder.pid)
  if (stat?.state === 'Z') return 'killed, not yet reaped'
  if (holder.start !== undefined && stat !== undefined && stat.start !== holder.start) return 'its pid now belongs to another process'
  return undefined
}

/** Linux's id of this boot; undefined elsewhere. */
const bootId = readOnce(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim())

/** A value read once from /proc, on first use: undefined where it cannot be read (not Linux) or is empty. */
function readOnce (read: () => string): () => string | undefined {
  let value: string | null | undefined
  return () => {
    if (value === undefined) {
      try {
        value = read() || null
      } catch {
        value = null
      }
    }
    return value ?? undefined
  }
}

/** State and start time (clock ticks since boot) of a process, from Linux's /proc; undefined elsewhere or when gone. */
function procStat (pid: number): { state: string, start: string } | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // "pid (comm) state ppid ..."; comm may hold spaces and parentheses: the fields start after the last ")".
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const state = fields[0]
  const start = fields[19]
  return state === undefined || start === undefined ? undefined : { state, start }
}

/**
 * Creates `path` holding `text`, failing with EEXIST if it exists. The content is written to a file of our own
 * first and hard-linked into place: the lock never exists empty, so a kill -9 between creating and writing it
 * cannot leave an empty lock that refuses restarts (10 s of MF_ERR_CHECKPOINT_LOCKED "starting"). Where hard
 * links are not supported, created then written, as before.
 */
async function createWithContent (path: string, text: string): Promise<void> {
  // A name no other process can have (two containers' pid 1 on one volume would share a pid-based one, and the
  // second's write would put its text into the first's lock), created exclusively.
  const own = `${path}.${randomBytes(8).toString('hex')}.tmp`
  try {
    await writeFile(own, text, { mode: 0o644, flag: 'wx' })
    try {
      await link(own, path)
    } catch (err) {
      // Only a file system without hard links falls back; EEXIST (held) and any other failure are the caller's.
      if (!NO_HARD_LINKS.has((err as NodeJS.ErrnoException).code ?? '')) throw err
      await createThenWrite(path, text)
    }
  } finally {
    await unlink(own).catch(() => undefined)
  }
}

/** link() errors of file systems without hard links (some FUSE and SMB mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK'])

async function createThenWrite (path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx', 0o644)
  try {
    await handle.writeFile(text)
  } finally {
    await handle.close()
  }
}

async function readLockHolder (path: string): Promise<LockHolder | 'gone' | 'starting' | 'garbage'> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone'
    throw errors.MF_ERR_CHECKPOINT_WRITE(path, (err as Error).message, { cause: err })
  }
  const info = await stat(path).catch(() => undefined)
  if (info === undefined) return 'gone'
  const fields = text.trim().split(/\s+/)
  if (fields[0] === '') return Date.now() - info.mtimeMs < EMPTY_LOCK_GRACE_MS ? 'starting' : 'garbage'
  const pid = Number(fields[0])
  if (!Number.isSafeInteger(pid) || pid <= 0) return 'garbage'
  const known = (value: string | undefined): string | undefined => value === undefined || value === '-' ? undefined : value
  return { pid, host: known(fields[1]), boot: known(fields[2]), start: known(fields[3]), ns: known(fields[4]), mtimeMs: info.mtimeMs }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function ignoreMissing (err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
}

function syncDir (dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch (err) {
    // Some platforms and file systems cannot fsync a directory; the rename is then as durable as they allow.
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw err
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** What a state dir holds, by the rules of load(); read without the lock (tests, reports). */
export interface StoredState {
  /** The newest valid state, or undefined when there is none (or `problem`). */
  data: CheckpointFileV1 | undefined
  from: 'main' | 'tmp' | 'journal' | 'none'
  /** checkpoints.json is damaged and nothing newer replaces it, or the journal cannot be read: MF_ERR_CHECKPOINT_CORRUPT. */
  problem?: { path: string, reason: string }
  /** Why a temp file was ignored when there was no main file. */
  ignoredTmp?: string
}

/**
 * The newest state of a state dir: checkpoints.json, or its temp file when that is valid and newer (a crash
 * between write and rename), then the newest valid journal record written on top of exactly that file (its
 * base is that file's seq). Without checkpoints.json (moved away to start over) the journal is not used.
 */
export function readStoredState (dir: string): StoredState {
  const path = join(dir, CHECKPOINT_FILE)
  const main = readCheckpointFile(path)
  const tmp = readCheckpointFile(path + '.tmp')
  let state: StoredState
  if (tmp.kind === 'ok' && (main.kind !== 'ok' || tmp.data.seq > main.data.seq)) {
    state = { data: tmp.data, from: 'tmp' }
  } else if (main.kind === 'ok') {
    state = { data: main.data, from: 'main' }
  } else if (main.kind === 'invalid') {
    return { data: undefined, from: 'none', problem: { path, reason: main.reason } }
  } else {
    return tmp.kind === 'invalid' ? { data: undefined, from: 'none', ignoredTmp: tmp.reason } : { data: undefined, from: 'none' }
  }
  const base = (state.data as CheckpointFileV1).seq
  const journalPath = join(dir, JOURNAL_FILE)
  let records
  try {
    records = readJournal(journalPath)
  } catch (err) {
    return { data: undefined, from: 'none', problem: { path: journalPath, reason: (err as Error).message } }
  }
  let newest: CheckpointFileV1 | undefined
  for (const record of records) {
    if (record.base !== base || (newest !== undefined && record.seq <= newest.seq)) continue
    const parsed = parseCheckpointText(record.text)
    if (parsed.kind === 'ok' && parsed.data.seq === record.seq) newest = parsed.data
  }
  return newest === undefined ? state : { data: newest, from: 'journal' }
}

function readCheckpointFile (path: string): ReadResult {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' }
    return { kind: 'invalid', reason: (err as Error).message }
  }
  return parseCheckpointText(text)
}

function parseCheckpointText (text: string): ReadResult {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    return { kind: 'invalid', reason: `not valid JSON, probably cut short: ${(err as Error).message}` }
  }
  const problem = checkFile(parsed)
  return problem === undefined ? { kind: 'ok', data: parsed as CheckpointFileV1 } : { kind: 'invalid', reason: problem }
}

const DIGITS = /^\d+$/
const HEX_HASH = /^[0-9a-f]{32}$/

/** Why the parsed value is not a version-1 checkpoint file, or undefined when it is one. */
function checkFile (value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object'
  const file = value as Record<string, unknown>
  if (typeof file.version === 'number' && file.version > CHECKPOINT_VERSION) {
    return `written by a newer matomo-forward (format version ${file.version}, this one reads ${CHECKPOINT_VERSION})`
  }
  if (file.version !== CHECKPOINT_VERSION) return `unknown format version ${JSON.stringify(file.version)}`
  if (!isCount(file.seq)) return 'seq is not a non-negative integer'
  if (!Array.isArray(file.sources)) return 'sources is not an array'
  for (const [i, item] of (file.sources as unknown[]).entries()) {
    const e = item as Partial<Record<keyof CheckpointEntry, unknown>> | null
    const ok = e !== null && typeof e === 'object' &&
      typeof e.dev === 'string' && DIGITS.test(e.dev) && typeof e.ino === 'string' && DIGITS.test(e.ino) &&
      isCount(e.headBytes) && e.headBytes <= FINGERPRINT_BYTES && typeof e.headHash === 'string' && HEX_HASH.test(e.headHash) &&
      isCount(e.offset) && isCount(e.line) && typeof e.path === 'string' && typeof e.updatedAt === 'string' &&
      (e.completeRawSize === undefined || isCount(e.completeRawSize))
    if (!ok) return `source ${i} is malformed`
  }
  return undefined
}

function isCount (value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}
