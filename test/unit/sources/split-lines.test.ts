// LineSplitter: exact byte offsets, CRLF, BOM, invalid UTF-8, over-long lines, and any chunking.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { LineSplitter, type LineHandler } from '../../../src/sources/split-lines.js'

interface Seen { kind: 'line' | 'long', text: string, lineNo: number, start: number, end: number }

function collect (): { handler: LineHandler, seen: Seen[] } {
  const seen: Seen[] = []
  return {
    seen,
    handler: {
      line: (text, lineNo, start, end) => { seen.push({ kind: 'line', text, lineNo, start, end }) },
      tooLong: (text, lineNo, start, end) => { seen.push({ kind: 'long', text, lineNo, start, end }) }
    }
  }
}

function split (input: Buffer | string, options: { maxLineBytes?: number, chunk?: number, startOffset?: number } = {}): Seen[] {
  const { handler, seen } = collect()
  const splitter = new LineSplitter(handler, { maxLineBytes: options.maxLineBytes ?? 1024, startOffset: options.startOffset })
  const buf = typeof input === 'string' ? Buffer.from(input) : input
  const size = options.chunk ?? buf.length
  for (let i = 0; i < buf.length; i += Math.max(1, size)) splitter.push(buf.subarray(i, i + Math.max(1, size)))
  splitter.end()
  return seen
}

describe('LineSplitter', () => {
  test('gives each line with 1-based numbers and byte offsets that include the newline', () => {
    assert.deepEqual(split('ab\ncd\n'), [
      { kind: 'line', text: 'ab', lineNo: 1, start: 0, end: 3 },
      { kind: 'line', text: 'cd', lineNo: 2, start: 3, end: 6 }
    ])
  })

  test('a last line without newline is a line at end()', () => {
    assert.deepEqual(split('ab\ncd').map((s) => [s.text, s.start, s.end]), [['ab', 0, 3], ['cd', 3, 5]])
  })

  test('strips CR of CRLF, and a UTF-8 BOM at the start of any line (files concatenated with their BOMs)', () => {
    const seen = split(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a\r\n\ufeffb\r\nc\ufeff\n')]))
    assert.deepEqual(seen.map((s) => s.text), ['a', 'b', 'c\ufeff'])
    assert.deepEqual(seen.map((s) => s.end), [6, 12, 17])
  })

  test('a BOM is stripped when resuming mid-file too, offsets unchanged', () => {
    const seen = split(Buffer.from([0xef, 0xbb, 0xbf, 0x61, 0x0a]), { startOffset: 100 })
    assert.equal(seen[0]?.text, 'a')
    assert.deepEqual([seen[0]?.start, seen[0]?.end], [100, 105])
  })

  test('offsets stay exact with invalid UTF-8 bytes', () => {
    const seen = split(Buffer.from([0x61, 0xff, 0xfe, 0x0a, 0x62, 0x0a]))
    assert.deepEqual(seen.map((s) => [s.text, s.start, s.end]), [['a\ufffd\ufffd', 0, 4], ['b', 4, 6]])
  })

  test('a line over maxLineBytes is reported as too long with its head, and the next line is intact', () => {
    const long = 'x'.repeat(5000)
    for (const chunk of [7, 100, 10_000]) {
      const seen = split(`a\n${long}\nb\n`, { maxLineBytes: 300, chunk })
      assert.deepEqual(seen.map((s) => [s.kind, s.lineNo, s.start, s.end]), [['line', 1, 0, 2], ['long', 2, 2, 5003], ['line', 3, 5003, 5005]], `chunk ${chunk}`)
      assert.ok((seen[1]?.text.length ?? 0) <= 1024 && seen[1]?.text.startsWith('xxx'))
    }
  })

  test('maxLineBytes counts the content only: LF, CRLF and no terminator at all have the same limit, in every chunking', () => {
    for (const ending of ['\n', '\r\n', '']) {
      for (const chunk of [1, 2, 3, 7, 299, 300, 301, 302, 303, 10_000]) {
        const kinds = [299, 300, 301].map((n) => split('z'.repeat(n) + ending, { maxLineBytes: 300, chunk }).map((s) => s.kind).join())
        assert.deepEqual(kinds, ['line', 'line', 'long'], `ending ${JSON.stringify(ending)}, chunk ${chunk}`)
      }
    }
  })

  test('a too-long last line without newline is reported at end()', () => {
    const seen = split('y'.repeat(2000), { maxLineBytes: 300, chunk: 64 })
    assert.deepEqual(seen.map((s) => [s.kind, s.start, s.end]), [['long', 0, 2000]])
  })

  test('holds no more than about maxLineBytes for an endless line', () => {
    const { handler } = collect()
    const splitter = new LineSplitter(handler, { maxLineBytes: 1000 })
    for (let i = 0; i < 1000; i++) splitter.push(Buffer.alloc(1000, 0x7a))
    assert.equal(splitter.pendingBytes, 1_000_000)
    assert.equal(splitter.lineStart, 0)
    // The held pieces were dropped once the line became too long: memory does not grow with it.
    assert.equal((splitter as unknown as { partial: Buffer[] }).partial.length, 0)
  })

  test('lineStart is the start of the unfinished line', () => {
    const { handler } = collect()
    const splitter = new LineSplitter(handler, { maxLineBytes: 100 })
    splitter.push(Buffer.from('abc\nde'))
    assert.equal(splitter.lineStart, 4)
    assert.equal(splitter.pendingBytes, 2)
    assert.equal(splitter.linesSeen, 1)
  })

  test('property: mostly-ASCII lines with CR, UTF-8, invalid bytes and BOMs give each line decoded as UTF-8, at any chunking', () => {
    // Line bytes: mostly ASCII, with CR, a two-byte UTF-8 character, invalid bytes and BOMs now and then.
    const byte = fc.oneof(
      { weight: 20, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((b) => [b]) },
      { weight: 1, arbitrary: fc.constantFrom([0x0d], [0xc3, 0xa9], [0xff], [0x00], [0xef, 0xbb, 0xbf]) }
    )
    const line = fc.array(byte, { maxLength: 30 }).map((parts) => parts.flat())
    fc.assert(fc.property(fc.array(line, { maxLength: 20 }), fc.integer({ min: 1, max: 120 }), fc.boolean(), (lines, chunk, finalNewline) => {
      const bytes = lines.flatMap((l, i) => (i < lines.length - 1 || finalNewline ? [...l, 0x0a] : l))
      const buf = Buffer.from(bytes)
      const seen = split(buf, { chunk, maxLineBytes: 10_000 })
      const expected: Array<[string, number, number]> = []
      let start = 0
      lines.forEach((l, i) => {
        const end = start + l.length + (i < lines.length - 1 || finalNewline ? 1 : 0)
        if (end === start) return
        let body = Buffer.from(l)
        // A CR before the LF (or at the very end of the input) is part of the line terminator.
        if (body.at(-1) === 0x0d) body = body.subarray(0, -1)
        if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) body = body.subarray(3)
        expected.push([body.toString('utf8'), start, end])
        start = end
      })
      assert.deepEqual(seen.map((s) => [s.text, s.start, s.end]), expected)
    }), { numRuns: 400 })
  })

  test('a line held across chunks, then whole lines of one chunk, then a non-ASCII chunk: texts and offsets are exact', () => {
    const seen = split('{"a":"é"}\r\n{"b":1}\r\n{"c":2}', { chunk: 5 })
    assert.deepEqual(seen.map((s) => [s.text, s.start, s.end]), [['{"a":"é"}', 0, 12], ['{"b":1}', 12, 21], ['{"c":2}', 21, 28]])
    const mixed = split(Buffer.concat([Buffer.from('ab\ncd\r\n'), Buffer.from('é\nx\n')]))
    assert.deepEqual(mixed.map((s) => [s.text, s.start, s.end]), [['ab', 0, 3], ['cd', 3, 7], ['é', 7, 10], ['x', 10, 12]])
  })

  test('property: any chunking of any lines gives the same lines and contiguous offsets', () => {
    fc.assert(fc.property(
      fc.array(fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/[\n\r]/g, '')), { maxLength: 30 }),
      fc.integer({ min: 1, max: 50 }),
      fc.boolean(),
      (lines, chunk, finalNewline) => {
        const text = lines.join('\n') + (finalNewline && lines.length > 0 ? '\n' : '')
        const buf = Buffer.from(text)
        const seen = split(buf, { chunk, maxLineBytes: 10_000 })
        // Without a final newline, an empty last "line" has no bytes: it is not a line.
        const expected = !finalNewline && lines.at(-1) === '' ? lines.slice(0, -1) : lines
        assert.deepEqual(seen.map((s) => s.text), expected.map((l, i) => (i === 0 ? l.replace(/^\ufeff/, '') : l)))
        let offset = 0
        for (const s of seen) {
          assert.equal(s.start, offset)
          offset = s.end
        }
        assert.equal(offset, buf.length)
      }
    ), { numRuns: 300 })
  })
})
