// parseIsoTime against an independent regex model, over sequences that share, change and break dates (its date cache).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { createTimeZone, parseIsoTime, type TimeZone } from '../../src/formats/access-entry.js'

const SHAPE = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/

/** What parseIsoTime must return, written another way: one regex, then range checks, then Date.UTC. */
function model (text: string, zoneOffsetMs: number): number {
  const m = SHAPE.exec(text)
  if (m === null) return NaN
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number]
  const second = m[6] === undefined ? 0 : Number(m[6])
  if (year < 100 || month < 1 || month > 12) return NaN
  // Day 0 of the next month is the last day of this one.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 60) return NaN
  // Fractions are generated with at most 9 digits: truncation to ms is exact.
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'))
  const local = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59), ms)
  if (m[8] !== undefined) return local
  if (m[9] === undefined) return local - zoneOffsetMs
  const offsetHour = Number(m[10])
  const offsetMinute = Number(m[11])
  if (offsetHour > 23 || offsetMinute > 59) return NaN
  const offsetMs = (offsetHour * 60 + offsetMinute) * 60_000
  return m[9] === '+' ? local - offsetMs : local + offsetMs
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0')

// Few dates, so that consecutive times often share one (cache hits) and often do not (misses), around month
// ends, leap days and year ends; ranges go one past the valid ones.
const date = fc.tuple(
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(2023, 2024, 2100, 2000) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 9999 }) }),
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(1, 2, 12) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 13 }) }),
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(1, 28, 29, 30, 31) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 32 }) })
).map(([y, m, d]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`)

const time = fc.tuple(
  fc.constantFrom('T', 't', ' ', 'x'),
  fc.integer({ min: 0, max: 24 }),
  fc.integer({ min: 0, max: 60 }),
  fc.option(fc.integer({ min: 0, max: 61 })),
  fc.option(fc.tuple(fc.constantFrom('.', ','), fc.stringMatching(/^\d{0,9}$/))),
  fc.oneof(
    fc.constantFrom('', 'Z', 'z', 'ZZ'),
    fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 24 }), fc.constantFrom(':', ''), fc.integer({ min: 0, max: 60 }))
      .map(([sign, h, colon, m]) => `${sign}${pad(h, 2)}${colon}${pad(m, 2)}`)
  )
).map(([sep, h, m, s, frac, offset]) => {
  const seconds = s === null ? '' : ':' + pad(s, 2) + (frac === null ? '' : frac[0] + frac[1])
  return `${sep}${pad(h, 2)}:${pad(m, 2)}${seconds}${offset}`
})

/** Now and then a character replaced or the text cut, so that near-misses of the shape are tried too. */
const text = fc.tuple(date, time, fc.option(fc.tuple(fc.nat(), fc.constantFrom('0', '9', '-', ':', 'T', '+', 'Z', '.', 'a', '')), { freq: 6 })).map(([d, t, change]) => {
  const whole = d + t
  if (change === null) return whole
  const at = change[0] % (whole.length + 1)
  return whole.slice(0, at) + change[1] + whole.slice(at + 1)
})

const ZONES: Array<[string, TimeZone, number]> = [['UTC', createTimeZone('UTC'), 0], ['+05:30', createTimeZone('+05:30'), 5.5 * 3_600_000]]

test('property: parseIsoTime agrees with a regex model over sequences of times (cache hits, misses and invalid dates)', () => {
  fc.assert(fc.property(fc.array(text, { minLength: 1, maxLength: 40 }), fc.constantFrom(...ZONES), (texts, [, zone, offsetMs]) => {
    for (const t of texts) {
      const got = parseIsoTime(t, zone)
      const expected = model(t, offsetMs)
      assert.ok(Object.is(got, expected), `${JSON.stringify(t)}: got ${got}, expected ${expected}`)
    }
  }), { numRuns: 1500 })
})

test('the model itself: known values', () => {
  assert.equal(model('2024-02-29T00:00:00Z', 0), Date.UTC(2024, 1, 29))
  assert.ok(Number.isNaN(model('2023-02-29T00:00:00Z', 0)))
  assert.ok(Number.isNaN(model('2100-02-29T00:00:00Z', 0)))
  assert.equal(model('2000-02-29T00:00:00Z', 0), Date.UTC(2000, 1, 29))
  assert.equal(model('2024-03-10T10:00:00.1239+01:00', 0), Date.UTC(2024, 2, 10, 9, 0, 0, 123))
})
