// The mapper's cdt checks: times Matomo would record "now" or count invalid are rejected before sending.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isLineIssue, type AccessEntry, type LineIssue } from '../../../src/formats/access-entry.js'
import { CDT_REQUIRES_TOKEN, createMapper, type MapperOptions, type MappingResult } from '../../../src/mapping/tracking-params.js'

const NOW = Date.parse('2026-06-01T12:00:00Z')
const HOUR = 3_600_000

function entry (timeMs: number): AccessEntry {
  return { method: 'GET', scheme: 'https', host: 'www.example.org', path: '/', query: undefined, status: 200, userAgent: 'ua', referer: undefined, acceptLanguage: undefined, remoteAddress: '203.0.113.1', forwardedFor: undefined, responseTimeMs: undefined, timeMs, error: undefined, userId: undefined, trackingData: undefined }
}

function map (timeMs: number, options: Partial<MapperOptions> = {}): MappingResult {
  return createMapper({ idsite: 1, accessToken: undefined, assumeHttps: true, host: undefined, trustedProxy: [], excludePath: [], excludePattern: [], allowedMethod: [], ignoredMethod: [], routeDetails: {}, nowMs: () => NOW, ...options })(entry(timeMs))
}

function reasonOf (result: MappingResult): string | undefined {
  return isLineIssue(result) ? (result as LineIssue).reason : undefined
}

describe('createMapper: request times', () => {
  const cases: Array<[string, number, Partial<MapperOptions>, string | undefined]> = [
    ['an hour old, no token: sent', NOW - HOUR, {}, undefined],
    ['23 h 50 min old, no token: sent', NOW - 23 * HOUR - 50 * 60_000, {}, undefined],
    ['24 h old, no token: cdt_requires_token', NOW - 24 * HOUR, {}, 'cdt_requires_token'],
    ['a year old, no token: cdt_requires_token', NOW - 365 * 24 * HOUR, {}, 'cdt_requires_token'],
    ['a year old, with a token: sent', NOW - 365 * 24 * HOUR, { accessToken: 'tok' }, undefined],
    ['a year old, no token, rule off (dry run): sent', NOW - 365 * 24 * HOUR, { oldHitsNeedToken: false }, undefined],
    ['2 minutes in the future (clock skew): sent', NOW + 2 * 60_000, {}, undefined],
    ['an hour in the future: cdt_out_of_range', NOW + HOUR, { accessToken: 'tok' }, 'cdt_out_of_range'],
    ['21 years old: cdt_out_of_range', NOW - 21 * 365 * 24 * HOUR, { accessToken: 'tok' }, 'cdt_out_of_range'],
    ['epoch milliseconds read as seconds (far future): cdt_out_of_range', NOW * 1000, { accessToken: 'tok' }, 'cdt_out_of_range']
  ]
  for (const [name, time, options, reason] of cases) {
    test(name, () => {
      const result = map(time, options)
      assert.equal(reasonOf(result), reason)
      if (reason === undefined) assert.equal((result as Record<string, unknown>).cdt, Math.floor(time / 1000))
    })
  }

  test('one shared issue for cdt_requires_token (cheap, and recognisable by identity)', () => {
    assert.equal(map(NOW - 48 * HOUR), CDT_REQUIRES_TOKEN)
  })

  test('says in the message when the time was', () => {
    const result = map(NOW + 48 * HOUR, { accessToken: 'tok' })
    assert.match((result as LineIssue).message, /2026-06-03T12:00:00\.000Z is in the future/)
  })
})
