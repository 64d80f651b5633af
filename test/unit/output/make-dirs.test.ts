// makeDirs: mkdir -p that fails fast where Node's recursive mkdir spins (under /proc).
import assert from 'node:assert/strict'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { makeDirs } from '../../../src/output/make-dirs.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('makeDirs', () => {
  test('creates missing parents with the mode given; an existing directory is fine', (t) => {
    const dir = join(tmpDir(t), 'a', 'b', 'c')
    makeDirs(dir, 0o700)
    assert.equal(statSync(dir).isDirectory(), true)
    assert.equal(statSync(dir).mode & 0o777, 0o700)
    makeDirs(dir)
  })

  test('under a regular file: ENOTDIR', (t) => {
    const file = join(tmpDir(t), 'f')
    writeFileSync(file, '')
    assert.throws(() => { makeDirs(join(file, 'x', 'y')) }, { code: 'ENOTDIR' })
  })

  test('under /proc: an error at once (fs.mkdir with recursive: true never returns there)', { skip: !existsSync('/proc/self') }, () => {
    assert.throws(() => { makeDirs('/proc/matomo-forward-test/state') }, { code: 'ENOENT' })
  })
})
