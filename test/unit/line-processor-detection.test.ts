// --format auto holds lines until it knows the format: held lines hold the checkpoint too.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { Hit } from '../../src/sink/sink.js'
import { feedSetup, pino } from '../helpers/line-feed.js'

const unknown = JSON.stringify({ ts: 1764064801, svc: 'checkout', http: { path: '/pay', status: 200 } })

describe('format detection and checkpoints', () => {
  test('a blank line read while lines are held for detection does not commit past them', () => {
    const { progress, feed, sink } = feedSetup({ format: 'auto' })
    feed([unknown, ''])
    assert.equal(progress.committed, 0, 'the held line is not done: the checkpoint stays before it')
    feed([pino])
    assert.equal(sink.hits.length, 1, 'detected as pino-http: the unknown line is rejected, the pino line is a hit')
    assert.equal(progress.committed, Buffer.byteLength(unknown + '\n\n'), 'up to the hit, which is not acknowledged yet')
    progress.ack((sink.hits[0] as Hit).ticket)
    assert.equal(progress.committed, Buffer.byteLength(unknown + '\n\n' + pino + '\n'))
  })

  test('when detection fails at the end, nothing held is committed (the next run reads those lines again)', () => {
    const { progress, feed, handler } = feedSetup({ format: 'auto' })
    feed([unknown, '', unknown, '   '])
    assert.throws(() => { handler.finish() }, { code: 'MF_ERR_FORMAT_UNDETECTED' })
    assert.equal(progress.committed, 0)
  })

  test('blank lines before anything held still move the checkpoint', () => {
    const { progress, feed } = feedSetup({ format: 'auto' })
    feed(['', ''])
    assert.equal(progress.committed, 2)
  })

  test('an input of nothing but the app\'s own log lines (level/msg, no request) needs no format: all filtered', () => {
    const { progress, feed, handler, summary, sink } = feedSetup({ format: 'auto' })
    const app = JSON.stringify({ level: 30, time: 1764064800000, pid: 7, msg: 'listening' })
    feed([app, app, app])
    assert.equal(progress.committed, Buffer.byteLength((app + '\n').repeat(3)), 'done at once, not held')
    handler.finish()
    assert.equal(summary.filtered.get('not_an_access_entry'), 3)
    assert.equal(sink.hits.length, 0)
  })

  test('more app lines than the detection look-ahead before the first request do not end detection', () => {
    const { feed, handler, summary, sink } = feedSetup({ format: 'auto' })
    const app = JSON.stringify({ level: 30, time: 1764064800000, msg: 'tick' })
    feed([...Array.from({ length: 1500 }, () => app), unknown, pino])
    handler.finish()
    assert.equal(sink.hits.length, 1, 'pino-http detected on the request line')
    assert.equal(summary.filtered.get('not_an_access_entry'), 1500)
    assert.equal(summary.rejectedTotal, 1, 'the unknown line, processed as pino-http')
  })

  test('a line with level/msg and a request-like key (an access layout no format knows) is held, never filtered unseen', () => {
    const { progress, feed, handler, summary } = feedSetup({ format: 'auto' })
    const renamed = JSON.stringify({ level: 30, time: 1764064800000, request: { method: 'GET', url: '/a' }, response: { statusCode: 200 }, msg: 'request completed' })
    feed([renamed, renamed])
    assert.throws(() => { handler.finish() }, { code: 'MF_ERR_FORMAT_UNDETECTED' })
    assert.equal(progress.committed, 0, 'not checkpointed: read again once the format is named')
    assert.equal(summary.filteredTotal, 0)
  })

  test('an app line that only mentions a url is plain; one with a target and a method or status is held', () => {
    const { feed, summary, progress } = feedSetup({ format: 'auto' })
    feed([JSON.stringify({ level: 30, time: 1764064800000, msg: 'calling upstream', url: 'https://api.example.org/x' })])
    assert.equal(summary.filtered.get('not_an_access_entry'), 1)
    const before = progress.committed
    feed([JSON.stringify({ level: 'info', msg: 'request', method: 'GET', path: '/x', status: 200 })])
    assert.equal(progress.committed, before, 'held: it may be an access entry of a layout no format knows')
    // echo/zap style: the status under "code", a client and a user agent: held too.
    feed([JSON.stringify({ level: 'info', msg: 'request', remote_ip: '203.0.113.9', host: 'h', uri: '/p/0', code: 200, user_agent: 'UA' })])
    assert.equal(progress.committed, before)
    assert.equal(summary.filtered.get('not_an_access_entry'), 1)
  })

  test('plain lines filtered before held lines keep the checkpoint at the furthest done line (never backwards)', () => {
    const { progress, feed, handler, offset } = feedSetup({ format: 'auto' })
    const app = JSON.stringify({ level: 30, time: 1764064800000, msg: 'tick' })
    feed(['not json', app, app])
    handler.finish()
    assert.equal(progress.committed, offset(), 'the bad line is rejected and the app lines were filtered: all done')
    assert.equal(progress.committedLine, 3)
  })

  test('a run stopped while held lines are released still counts the lines after the one that stopped it', () => {
    const { handler, feed, summary } = feedSetup({ format: 'auto', 'dry-run': false, 'matomo-url': 'http://127.0.0.1:9/matomo.php' })
    const old = '2025-01-01T00:00:00Z'
    // The first line fits nothing (held); the second decides nginx-json; releasing the first finds it too old.
    feed([JSON.stringify({ '@timestamp': old, status: 200, path: '/a', host: 'x.org' })])
    assert.throws(() => { feed([JSON.stringify({ '@timestamp': old, status: 200, path: '/b', host: 'x.org', remote_addr: '1.2.3.4' })]) }, { code: 'MF_ERR_CONFIG_TOKEN_REQUIRED' })
    handler.abandon()
    assert.equal(summary.linesRead, 2)
    assert.equal(summary.linesRead, summary.hits + summary.filteredTotal + summary.rejectedTotal + summary.linesHeldAtExit)
  })

  test('lines still held when the run stops are counted as held at exit: the summary adds up', () => {
    const { handler, feed, summary, progress } = feedSetup({ format: 'auto' })
    feed([unknown, '', unknown])
    handler.abandon()
    assert.equal(summary.linesHeldAtExit, 2)
    assert.equal(summary.linesRead, summary.hits + summary.filteredTotal + summary.rejectedTotal + summary.linesHeldAtExit)
    assert.equal(progress.committed, 0, 'the checkpoint stays before them')
  })
})

