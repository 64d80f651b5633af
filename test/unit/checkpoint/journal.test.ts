// Checkpoint journal: durable writes between checkpoints.json rewrites, recovery after a crash, torn slots, stale records, growth.
import assert from 'node:assert/strict'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { Writable } from 'node:stream'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { JOURNAL_FILE, readJournal } from '../../../src/checkpoint/journal.js'
import { CHECKPOINT_FILE, CheckpointStore, readStoredState } from '../../../src/checkpoint/store.js'
import { createLogger } from '../../../src/log.js'
import { FINGERPRINT_BYTES, identityOf } from '../../../src/sources/fingerprint.js'
import { tmpDir } from '../../helpers/tmp.js'

const ids = { dev: 2049n, ino: 1234n }
const head = Buffer.from('{"ip":"203.0.113.9","path":"/a"}\n'.repeat(60)).subarray(0, FINGERPRINT_BYTES)
const identity = identityOf(ids, head)

function mainOffset (dir: string): number | undefined {
  return (JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')) as { sources: Array<{ offset: number }> }).sources[0]?.offset
}

/** A store that wrote offset 500 to checkpoints.json, then each of `journalOffsets` to the journal. Left open (a crash). */
async function storeWithJournal (t: TestContext, journalOffsets: number[]): Promise<{ dir: string, store: CheckpointStore }> {
  const dir = tmpDir(t)
  const store = await CheckpointStore.open(dir, { mainWriteIntervalMs: 60_000 })
  t.after(async () => { await store.close() })
  store.set(identity, { offset: 500, line: 5, path: '/var/log/a.log' })
  await store.write()
  for (const offset of journalOffsets) {
    store.set(identity, { offset, line: offset / 100, path: '/var/log/a.log' })
    assert.equal(await store.write(), true)
  }
  return { dir, store }
}

/** What a process that crashed now would leave: the state files, without its lock. */
function crashCopy (t: TestContext, dir: string): string {
  const copy = tmpDir(t)
  for (const name of [CHECKPOINT_FILE, JOURNAL_FILE]) if (existsSync(join(dir, name))) copyFileSync(join(dir, name), join(copy, name))
  return copy
}

/** Changes one digit of the offset in the journal slot holding `seq`: still valid JSON, as a torn sector can be. */
function tearSlot (dir: string, seq: number): void {
  const path = join(dir, JOURNAL_FILE)
  const file = readFileSync(path)
  const slotBytes = file.length / 2
  for (let slot = 0; slot < 2; slot++) {
    const start = slot * slotBytes
    const headerEnd = file.indexOf(0x0a, start)
    if (file.toString('latin1', start, headerEnd).split(' ')[2] !== String(seq)) continue
    const digit = file.indexOf('"offset":', headerEnd) + 9
    file[digit] = file[digit] === 0x39 ? 0x38 : (file[digit] as number) + 1
    writeFileSync(path, file)
    return
  }
  assert.fail(`no slot holds seq ${seq}`)
}

describe('checkpoint journal', () => {
  test('writes between checkpoints.json rewrites go to the journal; a restart after a crash resumes from it', async (t) => {
    const { dir } = await storeWithJournal(t, [900, 1300])
    assert.equal(mainOffset(dir), 500, 'checkpoints.json is only rewritten once per interval')
    assert.equal(readJournal(join(dir, JOURNAL_FILE)).length, 2, 'two records, one per slot')
    const state = readStoredState(dir)
    assert.equal(state.from, 'journal')
    assert.equal(state.data?.sources[0]?.offset, 1300)

    const copy = crashCopy(t, dir)
    const restarted = await CheckpointStore.open(copy)
    t.after(async () => { await restarted.close() })
    assert.equal(restarted.find(ids, head)?.entry.offset, 1300, 'the newest durable state')
    assert.equal(restarted.dirty, true, 'a recovered state is written again')
    await restarted.write()
    assert.equal(mainOffset(copy), 1300, 'the first write of the next run goes to checkpoints.json')
    assert.equal(readStoredState(copy).from, 'main', 'the old records are stale on top of the new checkpoints.json')
  })

  test('close brings checkpoints.json up to the last state of the journal', async (t) => {
    const { dir, store } = await storeWithJournal(t, [900])
    assert.equal(mainOffset(dir), 500)
    await store.close()
    assert.equal(mainOffset(dir), 900)
    assert.equal(readStoredState(dir).from, 'main')
  })

  test('a torn newest slot is skipped for the previous one, and both torn leave checkpoints.json', async (t) => {
    const { dir } = await storeWithJournal(t, [900, 1300])
    const copy = crashCopy(t, dir)
    tearSlot(copy, 3)
    assert.equal(readStoredState(copy).data?.sources[0]?.offset, 900)
    tearSlot(copy, 2)
    const state = readStoredState(copy)
    assert.equal(state.from, 'main')
    assert.equal(state.data?.sources[0]?.offset, 500)
  })

  test('records are only valid on top of the checkpoints.json they followed', async (t) => {
    const { dir } = await storeWithJournal(t, [900])
    const moved = crashCopy(t, dir)
    renameSync(join(moved, CHECKPOINT_FILE), join(moved, 'saved.json'))
    assert.equal(readStoredState(moved).data, undefined, 'checkpoints.json moved away: start over, as documented')

    const replaced = crashCopy(t, dir)
    const other = JSON.parse(readFileSync(join(replaced, CHECKPOINT_FILE), 'utf8')) as { seq: number }
    other.seq = 7
    writeFileSync(join(replaced, CHECKPOINT_FILE), JSON.stringify(other))
    assert.equal(readStoredState(replaced).data?.seq, 7, 'another checkpoints.json: the journal does not extend it')
  })

  test('a state too large for a slot is written to checkpoints.json, and the journal grows for the next writes', async (t) => {
    const { dir, store } = await storeWithJournal(t, [900])
    const before = statSync(join(dir, JOURNAL_FILE)).size
    for (let i = 0; i < 40; i++) {
      store.set(identityOf({ dev: 1n, ino: BigInt(i) }, Buffer.from(`file ${i}`)), { offset: i, line: i, path: `/var/log/app/service-${i}.log` })
    }
    await store.write()
    assert.equal((JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')) as { sources: unknown[] }).sources.length, 41)
    assert.ok(statSync(join(dir, JOURNAL_FILE)).size > before, 'the journal was recreated with larger slots')
    store.set(identity, { offset: 1700, line: 17, path: '/var/log/a.log' })
    await store.write()
    const state = readStoredState(dir)
    assert.equal(state.from, 'journal')
    assert.equal(state.data?.sources.length, 41)
  })

  test('with mainWriteIntervalMs 0 every write goes to checkpoints.json and no journal is created', async (t) => {
    const dir = tmpDir(t)
    const store = await CheckpointStore.open(dir, { mainWriteIntervalMs: 0 })
    t.after(async () => { await store.close() })
    for (const offset of [500, 900]) {
      store.set(identity, { offset, line: 1, path: '/var/log/a.log' })
      await store.write()
      assert.equal(mainOffset(dir), offset)
    }
    assert.equal(existsSync(join(dir, JOURNAL_FILE)), false)
  })

  test('a journal of the wrong size or with garbage is ignored, not an error', async (t) => {
    const { dir } = await storeWithJournal(t, [900])
    const copy = crashCopy(t, dir)
    writeFileSync(join(copy, JOURNAL_FILE), Buffer.alloc(8192, 0x41))
    assert.equal(readStoredState(copy).data?.sources[0]?.offset, 500)
    writeFileSync(join(copy, JOURNAL_FILE), 'MFJ1 1 2 3 abc\n')
    assert.equal(readStoredState(copy).data?.sources[0]?.offset, 500)
  })

  test('a journal that cannot be created leaves every write to checkpoints.json, with one warning', async (t) => {
    const dir = tmpDir(t)
    const logs: string[] = []
    const logger = createLogger('warn', new Writable({ write (chunk, _enc, cb) { logs.push(String(chunk)); cb() } }))
    const store = await CheckpointStore.open(dir, { logger, mainWriteIntervalMs: 60_000 })
    t.after(async () => { await store.close() })
    mkdirSync(join(dir, JOURNAL_FILE)) // opening it for writing fails (EISDIR), whatever the user's rights
    for (const offset of [500, 900, 1300]) {
      store.set(identity, { offset, line: 1, path: '/var/log/a.log' })
      assert.equal(await store.write(), true)
      assert.equal(mainOffset(dir), offset, 'durable in checkpoints.json at once')
    }
    assert.equal(logs.filter((l) => l.includes('cannot create')).length, 1)
  })

  test('a journal that cannot be read stops the start with MF_ERR_CHECKPOINT_CORRUPT: it may hold the newest state', async (t) => {
    const { dir } = await storeWithJournal(t, [900])
    const copy = crashCopy(t, dir)
    rmSync(join(copy, JOURNAL_FILE))
    mkdirSync(join(copy, JOURNAL_FILE)) // reading it fails (EISDIR), whatever the user's rights
    assert.equal(readStoredState(copy).problem?.path, join(copy, JOURNAL_FILE))
    await assert.rejects(CheckpointStore.open(copy), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MF_ERR_CHECKPOINT_CORRUPT')
      assert.match(err.message, /checkpoints\.journal/)
      return true
    })
  })

  test('with discardDamaged (--ignore-checkpoints) an unreadable journal is moved aside and checkpoints.json is used', async (t) => {
    const { dir } = await storeWithJournal(t, [900])
    const copy = crashCopy(t, dir)
    rmSync(join(copy, JOURNAL_FILE))
    mkdirSync(join(copy, JOURNAL_FILE))
    const logs: string[] = []
    const logger = createLogger('warn', new Writable({ write (chunk, _enc, cb) { logs.push(String(chunk)); cb() } }))
    const store = await CheckpointStore.open(copy, { logger, discardDamaged: true })
    t.after(async () => { await store.close() })
    assert.equal(store.find(ids, head)?.entry.offset, 500, 'the state of checkpoints.json, without the lost journal')
    const aside = readdirSync(copy).filter((name) => name.startsWith(JOURNAL_FILE + '.damaged-'))
    assert.equal(aside.length, 1, 'the damaged journal is kept under another name')
    assert.equal(statSync(join(copy, aside[0] as string)).isDirectory(), true)
    assert.equal(logs.filter((l) => l.includes('moved it to')).length, 1)
    store.set(identity, { offset: 1000, line: 10, path: '/var/log/a.log' })
    assert.equal(await store.write(), true, 'writes work again')
    assert.equal(readStoredState(copy).data?.sources[0]?.offset, 1000)
  })
})
