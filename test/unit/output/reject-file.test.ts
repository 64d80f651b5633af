// Reject file: records are appended as NDJSON; flush() resolves once they are on disk.
import assert from 'node:assert/strict'
import { accessSync, constants, existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { createRejectWriter } from '../../../src/output/reject-file.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('createRejectWriter', () => {
  test('flush() resolves with every record written so far in the file', async (t) => {
    const path = join(tmpDir(t), 'rejects.ndjson')
    const writer = createRejectWriter(path)
    await writer.flush()
    for (let i = 0; i < 3; i++) writer.write({ reason: 'invalid_json', message: 'm', source: 'a.log', line: i + 1, offset: i * 10, raw: 'x' })
    await writer.flush()
    assert.equal(readFileSync(path, 'utf8').trim().split('\n').length, 3)
    assert.equal(statSync(path).mode & 0o777, 0o600, 'raw log lines (IPs, user agents) are for the owner only')
    await writer.close()
  })

  test('a reject file that cannot be written is reported when the writer is made, before any input is read', (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'afile'), '')
    assert.throws(() => createRejectWriter(join(dir, 'afile', 'sub', 'rejects.ndjson')), { code: 'MF_ERR_OUTPUT_WRITE', message: /ENOTDIR \(.*afile is not a directory\)/ })
    assert.throws(() => createRejectWriter(dir), { code: 'MF_ERR_OUTPUT_WRITE', message: /EISDIR/ })
    createRejectWriter('/dev/null') // a device (or /dev/stderr, a FIFO) can be written: accepted
    const later = join(dir, 'new', 'deeper', 'rejects.ndjson')
    createRejectWriter(later)
    assert.equal(existsSync(later), false, 'still created only at the first reject')
    assert.ok(existsSync(join(dir, 'new', 'deeper')), 'its directories are made at once (a --summary-json in a new directory is written at the end)')
  })

  test('the check never creates or removes the path itself: a dangling symlink stays, no probe file is left', (t) => {
    const dir = tmpDir(t)
    const link = join(dir, 'rejects.ndjson')
    symlinkSync(join(dir, 'elsewhere.ndjson'), link)
    createRejectWriter(link)
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link is still there')
    assert.deepEqual(readdirSync(dir), ['rejects.ndjson'], 'nothing created beside it, the link target not created')
  })

  test('the check opens the file for real: access() says yes to root where open() fails (sysfs)', (t) => {
    let rootOnSysfs = false
    try {
      accessSync('/sys', constants.W_OK)
      rootOnSysfs = process.getuid?.() === 0
    } catch {
      rootOnSysfs = false
    }
    if (!rootOnSysfs) {
      t.skip('needs root and a writable-looking /sys')
      return
    }
    assert.throws(() => createRejectWriter('/sys/matomo-forward-rejects.ndjson'), { code: 'MF_ERR_OUTPUT_WRITE', message: /EACCES|EPERM|EROFS/ })
  })

  test('a reject file that becomes unwritable during the run fails with MF_ERR_OUTPUT_WRITE (the input is not blamed)', (t) => {
    const dir = join(tmpDir(t), 'var')
    const writer = createRejectWriter(join(dir, 'state', 'rejects.ndjson'))
    rmSync(dir, { recursive: true })
    writeFileSync(dir, 'a file where the directory was')
    assert.throws(() => { writer.write({ reason: 'invalid_json', message: 'm', source: 'a.log', line: 1, offset: 0, raw: 'x' }) }, { code: 'MF_ERR_OUTPUT_WRITE' })
  })
})

