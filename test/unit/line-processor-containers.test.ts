// Container pieces in the line processor: the checkpoint never passes a piece whose line is not done yet.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Hit } from '../../src/sink/sink.js'
import { feedSetup as setup, pino, TS } from '../helpers/line-feed.js'

describe('CRI pieces and checkpoints', () => {
  test('an interleaved stderr hit does not let the checkpoint pass the first piece', () => {
    const { progress, sink, summary, feed } = setup()
    const p1 = `${TS} stdout P ${pino.slice(0, 40)}`
    feed([p1])
    assert.equal(progress.committed, 0)
    feed([`${TS} stderr F ${pino}`])
    feed([`${TS} stdout F ${pino.slice(40)}`])
    assert.equal(sink.hits.length, 2)
    assert.equal(summary.hits, 2)
    assert.equal(summary.filtered.get('partial_line_joined'), 1)
    const [stderrHit, joinedHit] = sink.hits as [Hit, Hit]
    assert.equal(joinedHit.lineNo, 1, 'the joined line is reported at its first piece')
    progress.ack(stderrHit.ticket)
    assert.equal(progress.committed, 0, 'the joined line still holds the checkpoint at its first piece')
    progress.ack(joinedHit.ticket)
    assert.equal(progress.committed, Buffer.byteLength(p1) + 1 + Buffer.byteLength(`${TS} stderr F ${pino}`) + 1 + Buffer.byteLength(`${TS} stdout F ${pino.slice(40)}`) + 1)
  })

  test('a joined line that is rejected releases the checkpoint at once', () => {
    const { progress, sink, summary, feed } = setup()
    feed([`${TS} stdout P {"not":`, `${TS} stdout F "closed"`])
    assert.equal(sink.hits.length, 0)
    assert.equal(summary.rejected.get('invalid_json'), 1)
    assert.equal(progress.outstanding, 0)
    assert.ok(progress.committed > 0)
  })

  test('pieces over --max-line-bytes end as one line_too_long', () => {
    const { progress, summary, feed } = setup({ 'max-line-bytes': 256 })
    feed([`${TS} stdout P ${'a'.repeat(200)}`, `${TS} stdout P ${'b'.repeat(200)}`, `${TS} stdout F ccc`])
    assert.equal(summary.rejected.get('line_too_long'), 1)
    assert.equal(summary.filtered.get('partial_line_joined'), 2)
    assert.equal(summary.linesRead, 3)
    assert.equal(progress.outstanding, 0)
  })

  test('a too-long physical piece also ends its entry as line_too_long', () => {
    const { handler, progress, summary, feed } = setup({ 'max-line-bytes': 256 })
    feed([`${TS} stdout P {"a":`])
    handler.tooLong(`${TS} stdout P ${'x'.repeat(100)}`, 2, 100, 1000)
    handler.line(`${TS} stdout F }`, 3, 1000, 1020)
    assert.equal(summary.rejected.get('line_too_long'), 1)
    assert.equal(summary.filtered.get('partial_line_joined'), 2)
    assert.equal(progress.committed, 1020)
  })

  test('pieces still open at the end of the input are processed as they are', () => {
    const { handler, progress, sink, summary, feed } = setup()
    feed([`${TS} stdout P ${pino}`, `${TS} stderr F plain text`])
    handler.finish()
    assert.equal(sink.hits.length, 1, 'a complete JSON line in a last P piece is still a hit')
    assert.equal(summary.rejected.get('invalid_json'), 1)
    assert.equal(summary.linesRead, summary.hits + summary.filteredTotal + summary.rejectedTotal)
    progress.ack(sink.hits[0]!.ticket)
    assert.equal(progress.outstanding, 0)
    assert.equal(progress.committed, Buffer.byteLength(`${TS} stdout P ${pino}`) + 1 + Buffer.byteLength(`${TS} stderr F plain text`) + 1)
  })
})

describe('Docker pieces', () => {
  test('a log without its newline is joined with the next record of its stream', () => {
    const { sink, summary, feed } = setup()
    const wrap = (log: string, stream = 'stdout'): string => JSON.stringify({ log, stream, time: TS })
    feed([wrap(pino.slice(0, 30)), wrap('warning\n', 'stderr'), wrap(pino.slice(30) + '\n'), wrap('\n')])
    assert.equal(sink.hits.length, 1)
    assert.deepEqual(Object.fromEntries(summary.rejected), { invalid_json: 1 })
    assert.deepEqual(Object.fromEntries([...summary.filtered].sort()), { empty_line: 1, partial_line_joined: 1 })
  })
})
