// Checkpoint store: atomic versioned writes, recovery from the temp file, torn files, the lock, skipping unchanged writes.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { CHECKPOINT_FILE, CheckpointStore, LOCK_FILE } from '../../../src/checkpoint/store.js'
import { FINGERPRINT_BYTES, identityOf } from '../../../src/sources/fingerprint.js'
import { tmpDir } from '../../helpers/tmp.js'

const ids = { dev: 2049n, ino: 1234n }
const head = Buffer.from('{"ip":"203.0.113.9","path":"/a"}\n'.repeat(60)).subarray(0, FINGERPRINT_BYTES)
const identity = identityOf(ids, head)
const position = { offset: 500, line: 7, path: '/var/log/access.log' }

/** A state dir whose checkpoint file holds `position` for `identity`, written and closed. */
async function storeWithOneEntry (t: TestContext): Promise<string> {
  const dir = tmpDir(t)
  const store = await CheckpointStore.open(dir)
  store.set(identity, position)
  await store.write()
  await store.close()
  return dir
}

function deadPid (): number {
  const child = spawnSync(process.execPath, ['-e', ''])
  return child.pid as number
}

describe('CheckpointStore', () => {
  test('a failed write throws MF_ERR_CHECKPOINT_WRITE, leaves the last file intact and is retried by the next write', async (t) => {
    const dir = await storeWithOneEntry(t)
    const store = await CheckpointStore.open(dir)
    t.after(async () => { await store.close() })
    store.set(identity, { ...position, offset: 900, line: 12 })
    // A directory where the temp file goes: opening it for writing fails (EISDIR), whatever the user's rights.
    mkdirSync(join(dir, CHECKPOINT_FILE + '.tmp'))
    await assert.rejects(store.write(), (err: unknown) => (err as { code?: string }).code === 'MF_ERR_CHECKPOINT_WRITE')
    const kept = JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')) as { sources: Array<{ offset: number }> }
    assert.equal(kept.sources[0]?.offset, 500, 'the previous checkpoint is untouched')
    rmdirSync(join(dir, CHECKPOINT_FILE + '.tmp'))
    assert.equal(await store.write(), true, 'still dirty: the next write retries')
    const written = JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')) as { sources: Array<{ offset: number }> }
    assert.equal(written.sources[0]?.offset, 900)
  })

  test('writes a versioned file atomically and finds the entry again after a restart', async (t) => {
    const dir = tmpDir(t)
    const store = await CheckpointStore.open(dir)
    store.set(identity, position)
    assert.equal(await store.write(), true)
    await store.close()
    const data = JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')) as { version: number, sources: unknown[] }
    assert.equal(data.version, 1)
    assert.equal(data.sources.length, 1)
    assert.equal(existsSync(join(dir, CHECKPOINT_FILE + '.tmp')), false, 'the temp file was renamed over the main file')

    const again = await CheckpointStore.open(dir)
    t.after(async () => { await again.close() })
    const match = again.find(ids, head)
    assert.equal(match?.by, 'inode')
    assert.equal(match?.entry.offset, 500)
    assert.equal(match?.entry.line, 7)
  })

  test('skips the write when nothing changed', async (t) => {
    const dir = tmpDir(t)
    const store = await CheckpointStore.open(dir)
    t.after(async () => { await store.close() })
    assert.equal(await store.write(), false, 'nothing to write at first')
    store.set(identity, position)
    assert.equal(await store.write(), true)
    store.set(identity, position)
    assert.equal(await store.write(), false, 'same position again: no write')
    store.set(identity, { ...position, offset: 600 })
    assert.equal(await store.write(), true)
  })

  test('keys by identity, not path: a renamed file keeps its checkpoint; a reused inode does not inherit it', async (t) => {
    const dir = tmpDir(t)
    const store = await CheckpointStore.open(dir)
    t.after(async () => { await store.close() })
    store.set(identity, position)
    assert.equal(store.find(ids, head)?.entry.offset, 500)
    const otherHead = Buffer.from('{"ip":"198.51.100.7","path":"/b"}\n'.repeat(60)).subarray(0, FINGERPRINT_BYTES)
    assert.equal(store.find(ids, otherHead), undefined, 'same dev+ino, other content: a new file')
    assert.equal(store.find(ids, head.subarray(0, 100)), undefined, 'shorter than the fingerprint: not the same file')
  })

  test('a short fingerprint matches the same file after it grew, and set(…, replaces) keeps one entry', async (t) => {
    const dir = tmpDir(t)
    const store = await CheckpointStore.open(dir)
    t.after(async () => { await store.close() })
    const short = identityOf(ids, head.subarray(0, 40))
    store.set(short, { offset: 40, line: 1, path: 'a' })
    const match = store.find(ids, head)
    assert.equal(match?.entry.offset, 40)
    store.set(identity, { offset: 300, line: 4, path: 'a' }, short)
    assert.equal(store.size, 1)
    assert.equal(store.find(ids, head)?.entry.headBytes, FINGERPRINT_BYTES)
  })

  test('falls back to a full-length content match on another inode (a copy, a recompressed rotation)', async (t) => {
    const dir = tmpDir(t)
    const store = await CheckpointStore.open(dir)
    t.after(async () => { await store.close() })
    store.set(identity, position)
    const match = store.find({ dev: 2049n, ino: 9999n }, head)
    assert.equal(match?.by, 'content')
    assert.equal(match?.entry.offset, 500)
    const short = identityOf({ dev: 1n, ino: 1n }, head.subarray(0, 30))
    store.set(short, { offset: 30, line: 1, path: 'b' })
    assert.equal(store.find({ dev: 1n, ino: 2n }, head.subarray(0, 30)), undefined, 'short heads are never matched by content alone')
  })

  test('prefers a valid temp file that is newer than the main file (crash between write and rename)', async (t) => {
    const dir = await storeWithOneEntry(t)
    const main = JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')) as { seq: number, sources: Array<{ offset: number }> }
    main.seq += 1;
    (main.sources[0] as { offset: number }).offset = 900
    writeFileSync(join(dir, CHECKPOINT_FILE + '.tmp'), JSON.stringify(main))
    const again = await CheckpointStore.open(dir)
    t.after(async () => { await again.close() })
    assert.equal(again.find(ids, head)?.entry.offset, 900)
  })

  test('ignores an older or torn temp file', async (t) => {
    const dir = await storeWithOneEntry(t)
    writeFileSync(join(dir, CHECKPOINT_FILE + '.tmp'), '{"version":1,"seq":99,"sources":[{"dev":"1"')
    const again = await CheckpointStore.open(dir)
    t.after(async () => { await again.close() })
    assert.equal(again.find(ids, head)?.entry.offset, 500)
  })

  test('recovers a torn main file from the temp file', async (t) => {
    const dir = await storeWithOneEntry(t)
    const text = readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')
    writeFileSync(join(dir, CHECKPOINT_FILE + '.tmp'), text)
    writeFileSync(join(dir, CHECKPOINT_FILE), text.slice(0, text.length / 2))
    const again = await CheckpointStore.open(dir)
    t.after(async () => { await again.close() })
    assert.equal(again.find(ids, head)?.entry.offset, 500)
  })

  test('a torn main file without a temp file is MF_ERR_CHECKPOINT_CORRUPT, never a silent start from zero', async (t) => {
    const dir = await storeWithOneEntry(t)
    const text = readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')
    writeFileSync(join(dir, CHECKPOINT_FILE), text.slice(0, 40))
    await assert.rejects(CheckpointStore.open(dir), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MF_ERR_CHECKPOINT_CORRUPT')
      assert.match(err.message, /not valid JSON/)
      return true
    })
    assert.equal(existsSync(join(dir, LOCK_FILE)), false, 'the lock is released after the failed open')
  })

  test('with discardDamaged (--ignore-checkpoints) a torn main file is moved aside and the store starts empty', async (t) => {
    const dir = await storeWithOneEntry(t)
    const torn = readFileSync(join(dir, CHECKPOINT_FILE), 'utf8').slice(0, 40)
    writeFileSync(join(dir, CHECKPOINT_FILE), torn)
    const store = await CheckpointStore.open(dir, { discardDamaged: true, now: () => Date.UTC(2026, 10, 25, 12, 0, 0) })
    t.after(async () => { await store.close() })
    assert.equal(store.size, 0)
    const aside = join(dir, `${CHECKPOINT_FILE}.damaged-2026-11-25T12-00-00-000Z`)
    assert.equal(readFileSync(aside, 'utf8'), torn, 'kept as it was, for a look')
    assert.equal(existsSync(join(dir, CHECKPOINT_FILE)), false)
    store.set(identity, position)
    await store.write()
    assert.equal((JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')) as { sources: unknown[] }).sources.length, 1)
  })

  test('rejects a malformed entry and a newer format version with a clear reason', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, CHECKPOINT_FILE), JSON.stringify({ version: 1, seq: 1, sources: [{ dev: '1', ino: 'x' }] }))
    await assert.rejects(CheckpointStore.open(dir), /source 0 is malformed/)
    writeFileSync(join(dir, CHECKPOINT_FILE), JSON.stringify({ version: 2, seq: 1, sources: [] }))
    await assert.rejects(CheckpointStore.open(dir), /newer matomo-forward \(format version 2/)
  })

  test('an interrupted first write (torn temp file, no main file) starts empty', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, CHECKPOINT_FILE + '.tmp'), '{"version":1,"se')
    const store = await CheckpointStore.open(dir)
    t.after(async () => { await store.close() })
    assert.equal(store.size, 0)
  })

  test('the lock keeps a second store (another live process) out, and is released on close', async (t) => {
    const dir = tmpDir(t)
    const store = await CheckpointStore.open(dir)
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').split(' ')[0], String(process.pid))
    await assert.rejects(CheckpointStore.open(dir), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MF_ERR_CHECKPOINT_LOCKED')
      assert.match(err.message, new RegExp(`in use by process ${process.pid}`))
      return true
    })
    const ours = readFileSync(join(dir, LOCK_FILE), 'utf8')
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n`)
    await assert.rejects(CheckpointStore.open(dir), /MF_ERR_CHECKPOINT_LOCKED|in use by process/)
    writeFileSync(join(dir, LOCK_FILE), ours) // put back what the store wrote: close() removes only its own lock
    await store.close()
    assert.equal(existsSync(join(dir, LOCK_FILE)), false)
  })

  test('the lock file never exists empty, so a kill -9 while it is made cannot leave one that refuses restarts', async (t) => {
    const dir = tmpDir(t)
    const seen: string[] = []
    let running = true
    const watcher = (async () => {
      while (running) {
        try {
          seen.push(readFileSync(join(dir, LOCK_FILE), 'utf8'))
        } catch {
          // not there between a close and the next open
        }
        await new Promise<void>((resolve) => { setImmediate(resolve) })
      }
    })()
    for (let i = 0; i < 50; i++) await (await CheckpointStore.open(dir)).close()
    running = false
    await watcher
    assert.ok(seen.length > 0, 'the watcher saw the lock')
    assert.deepEqual(seen.filter((text) => text.trim() === ''), [], 'an empty lock was visible')
    assert.deepEqual(readdirSync(dir).filter((name) => name.includes('.tmp')), [], 'no temporary file left')
  })

  test('the lock\'s temporary file has a name of its own: another process with the same pid (a container\'s pid 1) keeps its own', async (t) => {
    const dir = tmpDir(t)
    // What a same-pid process in another pid namespace would have in flight under a pid-based name.
    const theirs = join(dir, `${LOCK_FILE}.${process.pid}.tmp`)
    writeFileSync(theirs, 'their lock text')
    await (await CheckpointStore.open(dir)).close()
    assert.equal(readFileSync(theirs, 'utf8'), 'their lock text')
  })

  test('takes over the stale lock of a dead process, and an old empty lock file', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, LOCK_FILE), `${deadPid()}\n`)
    const store = await CheckpointStore.open(dir)
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8').split(' ')[0], String(process.pid))
    await store.close()
    writeFileSync(join(dir, LOCK_FILE), '')
    const old = new Date(Date.now() - 60_000)
    utimesSync(join(dir, LOCK_FILE), old, old)
    const again = await CheckpointStore.open(dir)
    await again.close()
    writeFileSync(join(dir, LOCK_FILE), '')
    await assert.rejects(CheckpointStore.open(dir), /is starting/, 'a fresh empty lock belongs to a process writing its pid')
  })

  test('a lock written by an earlier process with our own pid (a restarted container\'s pid 1) is taken over', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, LOCK_FILE), `${process.pid}\n`) // as written by earlier versions: the pid alone
    const store = await CheckpointStore.open(dir)
    await store.close()
  })

  test('a lock from before a reboot, or whose pid now belongs to a process started later, is taken over (Linux)', async (t) => {
    if (!existsSync('/proc/sys/kernel/random/boot_id')) {
      t.skip('needs Linux /proc')
      return
    }
    const dir = tmpDir(t)
    // process.ppid is alive: only the boot id, then the start time, tell that the lock is not its.
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid} ${hostname()} 00000000-0000-0000-0000-000000000000 -\n`)
    await (await CheckpointStore.open(dir)).close()
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid} ${hostname()} ${boot} 1\n`)
    await (await CheckpointStore.open(dir)).close()
    const ppidStart = readFileSync(`/proc/${process.ppid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19]
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid} ${hostname()} ${boot} ${ppidStart ?? '-'}\n`)
    await assert.rejects(CheckpointStore.open(dir), { code: 'MF_ERR_CHECKPOINT_LOCKED' }, 'the same process: still locked')
  })

  test('a lock whose process was killed but not yet reaped (a zombie) is taken over (Linux)', async (t) => {
    if (!existsSync('/proc/self/stat')) {
      t.skip('needs Linux /proc')
      return
    }
    // The shell's child exits at once; its parent becomes sleep (exec), which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] })
    t.after(() => { parent.kill('SIGKILL') })
    const zombie = Number(await new Promise<string>((resolve) => { parent.stdout.once('data', (c: Buffer) => { resolve(c.toString().trim()) }) }))
    for (let i = 0; i < 100 && !/\) Z /.test(readFileSync(`/proc/${zombie}/stat`, 'utf8')); i++) await new Promise((resolve) => setTimeout(resolve, 20))
    const dir = tmpDir(t)
    writeFileSync(join(dir, LOCK_FILE), `${zombie}\n`)
    await (await CheckpointStore.open(dir)).close()
  })

  test('a lock from another pid namespace (a container sharing the host name) is judged by its age, even with our pid (Linux)', async (t) => {
    if (!existsSync('/proc/self/ns/pid')) {
      t.skip('needs Linux /proc')
      return
    }
    const dir = tmpDir(t)
    // Our own pid, written in another namespace: a live neighbour container's pid 1 looks just like this.
    writeFileSync(join(dir, LOCK_FILE), `${process.pid} ${hostname()} - - pid:[1]\n`)
    await assert.rejects(CheckpointStore.open(dir), { code: 'MF_ERR_CHECKPOINT_LOCKED', message: /another pid namespace/ })
    const old = new Date(Date.now() - 120_000)
    utimesSync(join(dir, LOCK_FILE), old, old)
    await (await CheckpointStore.open(dir)).close()
  })

  test('a second store of this process through another path to the same directory is refused', async (t) => {
    const dir = tmpDir(t)
    mkdirSync(join(dir, 'state'))
    symlinkSync(join(dir, 'state'), join(dir, 'link'))
    const store = await CheckpointStore.open(join(dir, 'state'))
    t.after(async () => { await store.close() })
    await assert.rejects(CheckpointStore.open(join(dir, 'link')), { code: 'MF_ERR_CHECKPOINT_LOCKED' })
  })

  test('a lock found taken over while the store runs: onLockLost once, and nothing more is written here', async (t) => {
    const dir = tmpDir(t)
    const lost: string[] = []
    const store = await CheckpointStore.open(dir, { lockRefreshMs: 20, onLockLost: (what) => { lost.push(what) } })
    store.set(identity, position)
    assert.equal(await store.write(), true)
    const before = readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')
    writeFileSync(join(dir, LOCK_FILE), '4242 other-host.example - - -\n')
    for (let i = 0; i < 100 && lost.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.equal(lost.length, 1)
    assert.match(lost[0] ?? '', /now names process 4242/)
    store.set(identity, { ...position, offset: position.offset + 100 })
    assert.equal(await store.write(), false, 'the state belongs to the other run now')
    await store.close()
    assert.equal(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8'), before)
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), '4242 other-host.example - - -\n', 'its lock is left alone')
  })

  test('a lock from another host is judged by its age: refused while refreshed, taken over once stale', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, LOCK_FILE), '4242 other-host.example - -\n')
    await assert.rejects(CheckpointStore.open(dir), { code: 'MF_ERR_CHECKPOINT_LOCKED', message: /on host other-host\.example/ })
    const old = new Date(Date.now() - 120_000)
    utimesSync(join(dir, LOCK_FILE), old, old)
    await (await CheckpointStore.open(dir)).close()
  })

  test('drops entries no run has touched for longer than the expiry', async (t) => {
    const dir = tmpDir(t)
    let now = Date.parse('2025-01-01T00:00:00Z')
    const store = await CheckpointStore.open(dir, { now: () => now })
    store.set(identity, position)
    await store.write()
    await store.close()
    now += 40 * 24 * 3600 * 1000
    const later = await CheckpointStore.open(dir, { now: () => now })
    t.after(async () => { await later.close() })
    const other = identityOf({ dev: 1n, ino: 1n }, head.subarray(0, 10))
    later.set(other, { offset: 10, line: 1, path: 'b' })
    await later.write()
    assert.deepEqual(later.list().map((e) => e.path), ['b'])
  })
})
