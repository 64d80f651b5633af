// The fields format: a map of entry fields to dotted paths and units, validated at start, compiled once.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { parse as parseYaml } from 'yaml'
import type { FieldMap } from '../../../src/config/types.js'
import { createFieldsFormat, validateFieldMap } from '../../../src/formats/fields.js'
import { fixtureLines, runCases, type Case } from '../../helpers/format-cases.js'
import { FIXTURES } from '../../helpers/run-forward.js'

const config = parseYaml(readFileSync(join(FIXTURES, 'config', 'fields.yaml'), 'utf8')) as { fields: FieldMap }
const lines = fixtureLines('fields-custom.ndjson')

describe('fields fixture (fixtures/logs/fields-custom.ndjson with fixtures/config/fields.yaml)', () => {
  test('the committed map is valid', () => assert.deepEqual(validateFieldMap(config.fields), []))
  const format = createFieldsFormat(config.fields)
  runCases(format, [
    {
      name: 'line 1: nested paths, epoch-s float, header-like keys, a flat key holding dots, duration in ms',
      line: lines[0]!,
      expected: {
        timeMs: 1764064801.123 * 1000,
        method: 'GET',
        path: '/checkout/step-1',
        query: 'cart=9',
        status: 200,
        host: 'shop.example.org',
        userAgent: 'Mozilla/5.0 (Android 14)',
        acceptLanguage: 'es-ES',
        referer: 'https://shop.example.org/cart',
        remoteAddress: '203.0.113.20',
        responseTimeMs: 87.5,
        error: undefined
      }
    },
    { name: 'line 2: numeric strings, IPv6, an error object', line: lines[1]!, expected: { timeMs: 1764064802500, status: 502, responseTimeMs: 1200, remoteAddress: '2001:db8::20', error: 'UpstreamError: payment gateway timeout' } },
    { name: 'line 3: a line without the path field is rejected by its path', line: lines[2]!, expected: { issue: 'missing_field:http.path' } }
  ])
})

describe('fields units', () => {
  const base = { t: 0, p: '/x', d: 0 }
  const make = (unit: string, durationUnit = 'ms'): ReturnType<typeof createFieldsFormat> =>
    createFieldsFormat({ time: { path: 't', unit }, path: 'p', responseTime: { path: 'd', unit: durationUnit } })
  const T = Date.UTC(2025, 9, 10, 20, 55, 36)
  const timeCases: Array<[string, unknown, number]> = [
    ['epoch-s', 1760129736, T],
    ['epoch-ms', T, T],
    ['epoch-us', String(T * 1000), T],
    ['epoch-ns', '1760129736000000000', T],
    ['iso8601', '2025-10-10T22:55:36+02:00', T],
    ['clf', '10/Oct/2025:13:55:36 -0700', T]
  ]
  for (const [unit, value, expected] of timeCases) {
    runCases(make(unit), [{ name: `time unit ${unit}`, line: { ...base, t: value }, expected: { timeMs: expected } }])
  }
  runCases(make('iso8601'), [{ name: 'a number for an iso8601 time is invalid_time (units are never guessed)', line: { ...base, t: 1760129736 }, expected: { issue: 'invalid_time' } }])
  runCases(make('epoch-s'), [{ name: 'missing time is missing_field:<path>', line: { p: '/x' }, expected: { issue: 'missing_field:t' } }])
  for (const [unit, value, expected] of [['s', 0.25, 250], ['ms', 12, 12], ['us', 1500, 1.5], ['ns', 2_000_000, 2]] as const) {
    runCases(make('epoch-s', unit), [{ name: `duration unit ${unit}`, line: { ...base, d: value }, expected: { responseTimeMs: expected } }])
  }
  const cases: Case[] = [
    { name: 'a status that is not a number is invalid_field:<path>', line: { t: '2025-01-01T00:00:00Z', p: '/', s: 'x' }, expected: { issue: 'invalid_field:s' } },
    { name: 'header arrays give their first value', line: { t: '2025-01-01T00:00:00Z', p: ['/a'], s: 200 }, expected: { path: '/a', status: 200 } }
  ]
  runCases(createFieldsFormat({ time: 't', path: 'p', status: 's' }), cases)
})

describe('validateFieldMap', () => {
  test('accepts the example of the issue', () => {
    assert.deepEqual(validateFieldMap({ path: 'request.uri', time: { path: 'ts', unit: 'epoch-s' }, status: 'res.code' }), [])
  })
  test('reports every problem at once', () => {
    const problems = validateFieldMap({ when: 'ts', path: '', time: { path: 'ts', unit: 'epoch-minutes' }, responseTime: 'latency', status: { path: 'code', unit: 'ms' }, host: { path: 'h', extra: 1 }, method: 'a..b' })
    const expected = ['unknown entry field "when"', 'fields.path must be a dotted path', 'time.unit must be one of', 'responseTime needs a unit', 'status takes no unit', 'host has unknown key "extra"', 'fields.method must be a dotted path']
    for (const text of expected) assert.ok(problems.some((p) => p.includes(text)), `${text} in ${problems.join('\n')}`)
    assert.equal(problems.length, expected.length)
  })
  test('time and path are required', () => {
    const problems = validateFieldMap({ status: 's' })
    assert.equal(problems.length, 2)
    assert.match(problems.join('\n'), /name the time field[\s\S]*name the path field/)
  })
  test('a map that is not an object', () => {
    assert.match(validateFieldMap(['path'])[0] ?? '', /must map entry fields/)
  })
})
