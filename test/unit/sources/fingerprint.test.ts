// File identity: dev+ino+head checksum; short files grow into a full fingerprint; gzip heads are decompressed.
import assert from 'node:assert/strict'
import { appendFileSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, test } from 'node:test'
import { FINGERPRINT_BYTES, headMatches, identityOf, isFullFingerprint, readHead } from '../../../src/sources/fingerprint.js'
import { accessLines } from '../../helpers/log-lines.js'
import { tmpDir } from '../../helpers/tmp.js'

async function headOf (path: string): Promise<{ head: Buffer, gzip: boolean, ids: { dev: bigint, ino: bigint } }> {
  const handle = await open(path, 'r')
  try {
    const ids = await handle.stat({ bigint: true })
    return { ...await readHead(handle), ids }
  } finally {
    await handle.close()
  }
}

describe('fingerprint', () => {
  test('a short file has a short head that still matches once the file has grown', async (t) => {
    const dir = tmpDir(t)
    const path = join(dir, 'a.log')
    writeFileSync(path, accessLines(0, 1))
    const first = await headOf(path)
    const short = identityOf(first.ids, first.head)
    assert.ok(short.headBytes < FINGERPRINT_BYTES)
    assert.equal(isFullFingerprint(short), false)
    appendFileSync(path, accessLines(1, 20))
    const later = await headOf(path)
    assert.equal(headMatches(short, later.head), true)
    const full = identityOf(later.ids, later.head)
    assert.equal(full.headBytes, FINGERPRINT_BYTES)
    assert.equal(full.ino, short.ino)
  })

  test('different first bytes on the same inode do not match (a reused inode)', async (t) => {
    const dir = tmpDir(t)
    const path = join(dir, 'a.log')
    writeFileSync(path, accessLines(0, 20))
    const first = await headOf(path)
    writeFileSync(path, accessLines(100, 120))
    const second = await headOf(path)
    assert.equal(headMatches(identityOf(first.ids, first.head), second.head), false)
  })

  test('a gzip file is recognised by its magic bytes and fingerprinted on its decompressed content', async (t) => {
    const dir = tmpDir(t)
    const text = accessLines(0, 50)
    writeFileSync(join(dir, 'plain'), text)
    writeFileSync(join(dir, 'rotated-without-extension'), gzipSync(text))
    const plain = await headOf(join(dir, 'plain'))
    const gz = await headOf(join(dir, 'rotated-without-extension'))
    assert.equal(plain.gzip, false)
    assert.equal(gz.gzip, true)
    assert.deepEqual(gz.head, plain.head)
  })
})
