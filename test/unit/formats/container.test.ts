// Docker json-file and CRI unwrapping, and the bounded per-stream joining of partial lines.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createContainerLine, parseCriLine, PartialLines, unwrapDocker } from '../../../src/formats/container.js'

describe('parseCriLine', () => {
  const cases: Array<[string, string, { stream: string, partial: boolean, content: string } | undefined]> = [
    ['full stdout line', '2025-11-25T10:00:00.123456789Z stdout F {"a":1}', { stream: 'stdout', partial: false, content: '{"a":1}' }],
    ['partial stderr line', '2025-11-25T10:00:00Z stderr P {"a":', { stream: 'stderr', partial: true, content: '{"a":' }],
    ['offset time', '2025-11-25T10:00:00.1+01:00 stdout F x', { stream: 'stdout', partial: false, content: 'x' }],
    ['tag with flags', '2025-11-25T10:00:00Z stdout F:extra {"a":1}', { stream: 'stdout', partial: false, content: '{"a":1}' }],
    ['empty content with its space', '2025-11-25T10:00:00Z stdout F ', { stream: 'stdout', partial: false, content: '' }],
    ['empty content without a space', '2025-11-25T10:00:00Z stdout F', { stream: 'stdout', partial: false, content: '' }],
    ['content keeps its spaces', '2025-11-25T10:00:00Z stdout F  two  spaces', { stream: 'stdout', partial: false, content: ' two  spaces' }],
    ['a JSON line', '{"time":"2025-11-25T10:00:00Z"}', undefined],
    ['another stream name', '2025-11-25T10:00:00Z stdin F x', undefined],
    ['another tag', '2025-11-25T10:00:00Z stdout X x', undefined],
    ['a number', '2025', undefined],
    ['digits then text', '12345678901234567890', undefined]
  ]
  for (const [name, text, expected] of cases) {
    test(name, () => {
      const out = createContainerLine()
      const ok = parseCriLine(text, out)
      if (expected === undefined) assert.equal(ok, false)
      else {
        assert.equal(ok, true)
        assert.deepEqual({ ...out }, expected)
      }
    })
  }
})

describe('unwrapDocker', () => {
  test('a complete line loses its newline (and a CR)', () => {
    const out = createContainerLine()
    assert.equal(unwrapDocker({ log: '{"a":1}\r\n', stream: 'stdout', time: 't' }, out), true)
    assert.deepEqual({ ...out }, { stream: 'stdout', partial: false, content: '{"a":1}' })
  })
  test('a log without its newline is a piece', () => {
    const out = createContainerLine()
    assert.equal(unwrapDocker({ log: '{"a":', stream: 'stderr', time: 't' }, out), true)
    assert.deepEqual({ ...out }, { stream: 'stderr', partial: true, content: '{"a":' })
  })
  test('records that are not Docker wrappers are left alone', () => {
    const out = createContainerLine()
    assert.equal(unwrapDocker({ log: 'x\n', stream: 'stdout' }, out), false)
    assert.equal(unwrapDocker({ log: 1, stream: 'stdout', time: 't' }, out), false)
    assert.equal(unwrapDocker({ level: 30, msg: 'log' }, out), false)
  })
})

describe('PartialLines', () => {
  test('joins pieces per stream, even interleaved', () => {
    const p = new PartialLines<string>(1000)
    p.begin('stdout', '{"a":', 1, 0, 10, 'T1')
    p.begin('stderr', 'err ', 2, 10, 20, 'T2')
    p.add('stdout', '1,', 30)
    assert.equal(p.size, 2)
    const out = p.finish('stdout', '"b":2}', 40)
    assert.deepEqual(out, { text: '{"a":1,"b":2}', tooLong: false, bytes: 13, lineNo: 1, start: 0, end: 40, token: 'T1' })
    assert.equal(p.has('stdout'), false)
    assert.equal(p.finish('stdout', 'x', 50), undefined)
    const rest = p.drain()
    assert.equal(rest.length, 1)
    assert.equal(rest[0]?.text, 'err ')
    assert.equal(p.size, 0)
  })
  test('an entry over maxBytes keeps only its head and is marked too long', () => {
    const p = new PartialLines<number>(10)
    p.begin('stdout', 'abcdefgh', 1, 0, 9, 0)
    p.add('stdout', 'ijklmnop', 18)
    p.add('stdout', 'qrstu', 24)
    const out = p.finish('stdout', 'vwxyz', 30)
    assert.equal(out?.tooLong, true)
    assert.equal(out?.text, 'abcdefghijklmnop')
    assert.equal(out?.bytes, 26)
  })
  test('counts bytes, not characters', () => {
    const p = new PartialLines<number>(5)
    p.begin('stdout', 'ééé', 1, 0, 7, 0)
    assert.equal(p.finish('stdout', '', 8)?.tooLong, true)
  })
  test('overflow marks the entry too long', () => {
    const p = new PartialLines<number>(100)
    p.begin('stdout', 'a', 1, 0, 2, 0)
    p.overflow('stdout', 'head', 500)
    p.overflow('nope', 'head', 500)
    assert.equal(p.finish('stdout', 'b', 600)?.tooLong, true)
  })
})
