// parseJsonLine: JSON objects only, nginx \xHH escapes repaired into UTF-8, never a throw.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isLineIssue } from '../../../src/formats/access-entry.js'
import { decodeHexEscapes, parseJsonLine } from '../../../src/formats/parse-line.js'

describe('parseJsonLine', () => {
  test('an object', () => assert.deepEqual(parseJsonLine('{"a":1}'), { a: 1 }))
  for (const [text, reason] of [['not json', 'invalid_json'], ['{"a":', 'invalid_json'], ['[1]', 'not_an_object'], ['null', 'not_an_object'], ['1', 'not_an_object'], ['"s"', 'not_an_object'], ['true', 'not_an_object']] as const) {
    test(`${text} → ${reason}`, () => {
      const result = parseJsonLine(text)
      assert.ok(isLineIssue(result))
      assert.equal(result.reason, reason)
    })
  }
  test('\\xHH escapes become UTF-8 text', () => {
    assert.deepEqual(parseJsonLine('{"q":"caf\\xC3\\xA9","ua":"\\x22quoted\\x22 back\\x5Cslash"}'), { q: 'café', ua: '"quoted" back\\slash' })
  })
  test('invalid UTF-8 in escapes becomes U+FFFD', () => {
    assert.deepEqual(parseJsonLine('{"q":"\\xFF\\xFE"}'), { q: '\uFFFD\uFFFD' })
  })
  test('control bytes in escapes stay valid JSON', () => {
    assert.deepEqual(parseJsonLine('{"r":"\\x16\\x03\\x01"}'), { r: '\u0016\u0003\u0001' })
  })
  test('an escaped backslash before "x41" is not taken for an escape', () => {
    assert.equal(decodeHexEscapes('{"a":"\\\\x41","b":"\\x41"}'), '{"a":"\\\\x41","b":"A"}')
    assert.deepEqual(parseJsonLine('{"a":"\\\\x41","b":"\\x41"}'), { a: '\\x41', b: 'A' })
  })
  test('a line that is still not JSON after the repair is invalid_json', () => {
    const result = parseJsonLine('{"a":"\\x41"')
    assert.ok(isLineIssue(result))
    assert.equal(result.reason, 'invalid_json')
  })
})
