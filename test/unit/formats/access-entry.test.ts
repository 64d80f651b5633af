// parseIsoTime and splitUri: every time shape the formats meet, and request targets.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createTimeZone, parseIsoTime, splitUri } from '../../../src/formats/access-entry.js'

const T = Date.UTC(2024, 2, 10, 9, 0, 0)

describe('parseIsoTime', () => {
  const cases: Array<[string, string, number]> = [
    ['Z', '2024-03-10T09:00:00Z', T],
    ['lower-case z and t', '2024-03-10t09:00:00z', T],
    ['positive offset', '2024-03-10T10:00:00+01:00', T],
    ['negative offset', '2024-03-10T04:00:00-05:00', T],
    ['offset without colon', '2024-03-10T10:00:00+0100', T],
    ['fraction with Z', '2024-03-10T09:00:00.123Z', T + 123],
    ['fraction with offset (import_logs.py: invalid)', '2024-03-10T10:00:00.123+01:00', T + 123],
    ['nanoseconds are truncated to ms', '2024-03-10T09:00:00.123456789Z', T + 123],
    ['one fraction digit', '2024-03-10T09:00:00.5Z', T + 500],
    ['comma fraction', '2024-03-10T09:00:00,25Z', T + 250],
    ['no offset is UTC', '2024-03-10T09:00:00', T],
    ['space separator', '2024-03-10 09:00:00', T],
    ['no seconds', '2024-03-10T09:00Z', T],
    ['leap second', '2024-03-10T08:59:60Z', T - 1000],
    ['29 February of a leap year', '2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)]
  ]
  for (const [name, text, expected] of cases) {
    test(name, () => assert.equal(parseIsoTime(text), expected))
  }

  const invalid: Array<[string, string]> = [
    ['30 February', '2024-02-30T00:00:00Z'],
    ['29 February of a common year', '2023-02-29T00:00:00Z'],
    ['hour 24', '2024-03-10T24:00:00Z'],
    ['month 13', '2024-13-10T09:00:00Z'],
    ['trailing text', '2024-03-10T09:00:00Zjunk'],
    ['offset without minutes', '2024-03-10T09:00:00+01'],
    ['empty fraction', '2024-03-10T09:00:00.Z'],
    ['date only', '2024-03-10'],
    ['words', 'yesterday'],
    ['empty', ''],
    ['nginx time_local', '10/Mar/2024:09:00:00 +0000'],
    ['offset hour 24', '2024-03-10T09:00:00+24:00']
  ]
  for (const [name, text] of invalid) {
    test(`rejects ${name}`, () => assert.ok(Number.isNaN(parseIsoTime(text)), text))
  }

  test('a time without offset is read in --timezone', () => {
    assert.equal(parseIsoTime('2024-03-10T10:00:00', createTimeZone('+01:00')), T)
    assert.equal(parseIsoTime('2024-07-10T11:00:00', createTimeZone('Europe/Paris')), Date.UTC(2024, 6, 10, 9))
    assert.equal(parseIsoTime('2024-01-10T10:00:00', createTimeZone('Europe/Paris')), Date.UTC(2024, 0, 10, 9))
  })

  test('a time with an offset ignores --timezone', () => {
    assert.equal(parseIsoTime('2024-03-10T09:00:00Z', createTimeZone('Europe/Paris')), T)
  })

  // parseIsoTime keeps the midnight of the last date it parsed: these sequences go through hits and misses.
  test('consecutive times of one date with different offsets', () => {
    assert.equal(parseIsoTime('2024-03-10T10:00:00+01:00'), T)
    assert.equal(parseIsoTime('2024-03-10T04:00:00-05:00'), T)
    assert.equal(parseIsoTime('2024-03-10T14:30:00+05:30'), T)
    assert.equal(parseIsoTime('2024-03-10T09:00:00Z'), T)
    assert.equal(parseIsoTime('2024-03-10T10:00:00', createTimeZone('+01:00')), T)
  })

  test('across day, month and year boundaries', () => {
    assert.equal(parseIsoTime('2024-12-31T23:59:59Z'), Date.UTC(2024, 11, 31, 23, 59, 59))
    assert.equal(parseIsoTime('2025-01-01T00:00:00Z'), Date.UTC(2025, 0, 1))
    assert.equal(parseIsoTime('2025-01-01T05:29:59+05:30'), Date.UTC(2024, 11, 31, 23, 59, 59))
    assert.equal(parseIsoTime('2024-12-31T23:59:59Z'), Date.UTC(2024, 11, 31, 23, 59, 59))
    assert.equal(parseIsoTime('2024-01-31T12:00:00Z'), Date.UTC(2024, 0, 31, 12))
    assert.equal(parseIsoTime('2024-02-01T12:00:00Z'), Date.UTC(2024, 1, 1, 12))
  })

  test('leap days: a cached 28 February never makes a 29th valid, nor a valid 29th an invalid one', () => {
    assert.equal(parseIsoTime('2024-02-28T23:00:00Z'), Date.UTC(2024, 1, 28, 23))
    assert.equal(parseIsoTime('2024-02-29T01:00:00+02:00'), Date.UTC(2024, 1, 28, 23))
    assert.ok(Number.isNaN(parseIsoTime('2023-02-29T00:00:00Z')))
    assert.equal(parseIsoTime('2024-02-29T00:00:00Z'), Date.UTC(2024, 1, 29))
    assert.ok(Number.isNaN(parseIsoTime('2100-02-29T00:00:00Z')))
    assert.equal(parseIsoTime('2000-02-29T00:00:00Z'), Date.UTC(2000, 1, 29))
    assert.ok(Number.isNaN(parseIsoTime('2024-02-30T00:00:00Z')))
    assert.equal(parseIsoTime('2024-03-01T00:00:00Z'), Date.UTC(2024, 2, 1))
  })

  test('a cached date does not let a bad time of that date through, and survives it', () => {
    assert.equal(parseIsoTime('2024-03-10T09:00:00Z'), T)
    assert.ok(Number.isNaN(parseIsoTime('2024-03-10T24:00:00Z')))
    assert.ok(Number.isNaN(parseIsoTime('2024-03-10T09:60:00Z')))
    assert.ok(Number.isNaN(parseIsoTime('2024-03-10X09:00:00Z')))
    assert.ok(Number.isNaN(parseIsoTime('2024-03-10T09:00:00+01')))
    assert.ok(Number.isNaN(parseIsoTime('2024/03/10T09:00:00Z')))
    assert.equal(parseIsoTime('2024-03-10 09:00:00Z'), T)
  })

  test('the same month and day of another year or century is another date', () => {
    assert.equal(parseIsoTime('2024-03-10T09:00:00Z'), T)
    assert.equal(parseIsoTime('2023-03-10T09:00:00Z'), Date.UTC(2023, 2, 10, 9))
    assert.equal(parseIsoTime('1924-03-10T09:00:00Z'), Date.UTC(1924, 2, 10, 9))
    assert.ok(Number.isNaN(parseIsoTime('0024-03-10T09:00:00Z')))
  })
})

describe('splitUri', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['/a/b?x=1&y=2', '/a/b', 'x=1&y=2'],
    ['/a/b', '/a/b', undefined],
    ['/a/b?', '/a/b', undefined],
    ['a/b', '/a/b', undefined],
    ['http://evil.example/a?x=1', '/a', 'x=1'],
    ['HTTPS://host.example', '/', undefined],
    ['/?q=http://x', '/', 'q=http://x']
  ]
  for (const [uri, path, query] of cases) {
    test(`splits ${uri}`, () => assert.deepEqual(splitUri(uri), { path, query }))
  }
})
