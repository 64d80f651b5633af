// FileTailer: content replaced under the tailer between its checks and its read is read from its start.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { createLineProcessor } from '../../../src/line-processor.js'
import { readHead } from '../../../src/sources/fingerprint.js'
import { FileTailer } from '../../../src/sources/tail-file.js'
import { Summary } from '../../../src/summary.js'
import { silentLogger, testConfig } from '../../helpers/config.js'
import { accessLines } from '../../helpers/log-lines.js'
import { createTestSink } from '../../helpers/test-sink.js'
import { tmpDir } from '../../helpers/tmp.js'

test('a short file truncated and refilled between the head check and the read: the new content is read from 0, none of it lost', async (t) => {
  const dir = tmpDir(t)
  const log = join(dir, 'access.log')
  const old = accessLines(0, 3) // under 1 KiB: its fingerprint is extended as the file grows
  writeFileSync(log, old)
  const handle = await open(log, 'r')
  t.after(async () => { await handle.close() })
  const config = testConfig('tail', [log], join(dir, 'state'))
  const sink = createTestSink()
  const summary = new Summary()
  const processor = createLineProcessor({ config, summary, sink, logger: silentLogger(), rejects: undefined })
  const tailer = new FileTailer(
    { path: log, handle, ids: await handle.stat({ bigint: true }), head: (await readHead(handle)).head, offset: old.length, line: 3, now: Date.now() },
    { processor, sink, maxLineBytes: config.maxLineBytes, logger: silentLogger(), writer: undefined, signal: undefined })
  // The file is replaced right after the tailer checked its size and first bytes, before it reads on.
  const read = handle.read.bind(handle) as (...args: unknown[]) => Promise<unknown>
  let replaced = false
  ;(handle as unknown as { read: unknown }).read = async (...args: unknown[]) => {
    // The read of what follows the old content (position = its length), not the 1 KiB head check at 0.
    if (!replaced && args[3] === old.length) {
      replaced = true
      writeFileSync(log, accessLines(100, 110))
    }
    return await read(...args)
  }
  await tailer.poll(() => Date.now())
  await tailer.poll(() => Date.now())
  assert.deepEqual([...sink.acked].sort(), accessLineIds(100, 110))
  assert.equal(summary.rejectedTotal, 0, 'no piece of a line from the middle of the new content')
})

function accessLineIds (from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => String(from + i)).sort()
}
