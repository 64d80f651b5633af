// Epoch units, nginx time_local, durations per unit, Go durations, status codes.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { UTC } from '../../../src/formats/access-entry.js'
import { INVALID, durationToMs, epochToMs, errorText, firstOfList, hostOf, isUrlHost, parseClfTime, parseGoDuration, show, statusOf, timeToMs } from '../../../src/formats/values.js'

const T = Date.UTC(2025, 9, 10, 20, 55, 36)

describe('epochToMs', () => {
  test('converts each unit, numbers and numeric strings alike', () => {
    assert.equal(epochToMs(1760129736, 'epoch-s'), T)
    assert.equal(epochToMs('1760129736.5', 'epoch-s'), T + 500)
    assert.equal(epochToMs(T, 'epoch-ms'), T)
    assert.equal(epochToMs(String(T), 'epoch-ms'), T)
    assert.equal(epochToMs(T * 1000, 'epoch-us'), T)
    assert.equal(Math.round(epochToMs('1760129736000000000', 'epoch-ns')), T)
  })
  test('never guesses the unit from the size of the number', () => {
    assert.equal(epochToMs(1760129736, 'epoch-ms'), 1760129736)
  })
  test('anything else is NaN', () => {
    for (const value of ['', 'abc', null, undefined, {}, [], true, Infinity]) assert.ok(Number.isNaN(epochToMs(value, 'epoch-s')), String(value))
  })
})

describe('parseClfTime', () => {
  test('reads nginx $time_local with its offset', () => {
    assert.equal(parseClfTime('10/Oct/2025:13:55:36 -0700'), T)
    assert.equal(parseClfTime('[10/Oct/2025:22:55:36 +0200]'), T)
  })
  test('rejects impossible dates and other shapes', () => {
    for (const text of ['31/Feb/2025:00:00:00 +0000', '10/Foo/2025:13:55:36 -0700', '10/Oct/2025 13:55:36', '2025-10-10T13:55:36Z', '10/Oct/2025:25:00:00 +0000']) {
      assert.ok(Number.isNaN(parseClfTime(text)), text)
    }
  })
  test('timeToMs dispatches on the unit', () => {
    assert.equal(timeToMs('10/Oct/2025:13:55:36 -0700', 'clf', UTC), T)
    assert.equal(timeToMs('2025-10-10T20:55:36Z', 'iso8601', UTC), T)
    assert.ok(Number.isNaN(timeToMs(1760129736, 'iso8601', UTC)))
    assert.equal(timeToMs(1760129736, 'epoch-s', UTC), T)
  })
})

describe('durationToMs', () => {
  test('converts each unit; absent and non-numbers are undefined', () => {
    assert.equal(durationToMs(0.042, 's'), 42)
    assert.equal(durationToMs('12.5', 'ms'), 12.5)
    assert.equal(durationToMs(1500, 'us'), 1.5)
    assert.equal(durationToMs('12603000', 'ns'), 12.603)
    for (const value of ['-', '', null, undefined, 'fast']) assert.equal(durationToMs(value, 's'), undefined)
  })
  test('parseGoDuration reads Go duration text', () => {
    assert.equal(parseGoDuration('1.5ms'), 1.5)
    assert.equal(parseGoDuration('2m3.5s'), 123_500)
    assert.ok(Math.abs((parseGoDuration('929.675µs') ?? 0) - 0.929675) < 1e-9)
    assert.equal(parseGoDuration('1h'), 3_600_000)
    assert.equal(parseGoDuration('0'), 0)
    assert.equal(parseGoDuration('12'), undefined)
    assert.equal(parseGoDuration('1.5 ms'), undefined)
    assert.equal(parseGoDuration('fast'), undefined)
  })
})

describe('statusOf', () => {
  test('numbers and numeric strings', () => {
    assert.equal(statusOf(200), 200)
    assert.equal(statusOf('404'), 404)
  })
  test('-, empty and null are absent', () => {
    for (const value of ['-', '', null, undefined]) assert.equal(statusOf(value), undefined)
  })
  test('anything else present is INVALID', () => {
    for (const value of ['abc', '2xx', 200.5, 1000, -1, {}, true, '0x1F', '2e2', '404.0', '+200']) assert.equal(statusOf(value), INVALID, String(value))
  })
})

describe('hostOf', () => {
  test('the first X-Forwarded-Host entry, else the logged host', () => {
    assert.equal(hostOf('www.example.org, lb.internal', 'internal:3000'), 'www.example.org')
    assert.equal(hostOf(undefined, 'internal:3000'), 'internal:3000')
    assert.equal(hostOf(' , x', 'h'), 'h')
    assert.equal(hostOf('[2001:db8::1]:8443', 'h'), '[2001:db8::1]:8443')
    assert.equal(hostOf('bücher.example', 'h'), 'bücher.example')
  })
  test('a value a URL cannot carry as its host is skipped (client-sent X-Forwarded-Host, garbage)', () => {
    for (const bad of ['evil.example/x?y=', 'https://x.example', 'a b', 'user@host', 'h\u0000', 'h#f', 'h:99999999', '[not-ip]']) {
      assert.equal(isUrlHost(bad), false, bad)
      assert.equal(hostOf(bad, 'www.example.org'), 'www.example.org', bad)
    }
    assert.equal(hostOf(undefined, '  '), undefined)
  })
})

describe('small helpers', () => {
  test('firstOfList takes the first list item', () => {
    assert.equal(firstOfList('https, http'), 'https')
    assert.equal(firstOfList(' , x'), undefined)
    assert.equal(firstOfList(undefined), undefined)
  })
  test('errorText renders pino errors', () => {
    assert.equal(errorText({ type: 'TypeError', message: 'boom' }), 'TypeError: boom')
    assert.equal(errorText({ message: 'boom' }), 'Error: boom')
    assert.equal(errorText('plain'), 'plain')
    assert.equal(errorText(undefined), undefined)
  })
  test('show cuts long values', () => {
    assert.equal(show('x'.repeat(200)).length, 80)
    assert.equal(show(12), '12')
    assert.equal(show(JSON.parse('1e400')), 'Infinity', 'the number, not the null of JSON.stringify')
  })
})
