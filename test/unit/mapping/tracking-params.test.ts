// Table-driven tests of the mapping: one case per asgi-matomo rule and per asgi-matomo bug we fix.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { AccessEntry } from '../../../src/formats/access-entry.js'
import { isLineIssue } from '../../../src/formats/access-entry.js'
import { decodePath } from '../../../src/mapping/decode-path.js'
import { ABSENT_USER_AGENT, CDT_REQUIRES_TOKEN, createMapper, type MapperOptions, type TrackingParams } from '../../../src/mapping/tracking-params.js'

const TIME = Date.UTC(2025, 10, 25, 8, 0, 1, 999)

function entry (over: Partial<AccessEntry> = {}): AccessEntry {
  return {
    method: 'GET',
    scheme: 'http',
    host: 'api.example.org',
    path: '/api/users',
    query: undefined,
    status: 200,
    userAgent: 'Mozilla/5.0',
    referer: undefined,
    acceptLanguage: undefined,
    remoteAddress: '198.51.100.1',
    forwardedFor: undefined,
    responseTimeMs: 12.4,
    timeMs: TIME,
    error: undefined,
    userId: undefined,
    trackingData: undefined,
    ...over
  }
}

function mapper (over: Partial<MapperOptions> = {}): ReturnType<typeof createMapper> {
  return createMapper({
    idsite: 7,
    accessToken: undefined,
    assumeHttps: true,
    host: undefined,
    trustedProxy: [],
    excludePath: [],
    excludePattern: [],
    allowedMethod: [],
    ignoredMethod: [],
    routeDetails: {},
    random: () => 0.5,
    nowMs: () => TIME + 60_000,
    ...over
  })
}

function params (result: ReturnType<ReturnType<typeof createMapper>>): TrackingParams {
  assert.equal(typeof result, 'object', `expected params, got ${JSON.stringify(result)}`)
  assert.ok(!isLineIssue(result), `expected params, got issue ${JSON.stringify(result)}`)
  return result as TrackingParams
}

describe('createMapper: the params of a tracked entry', () => {
  test('sends exactly the asgi-matomo defaults, in a stable order', () => {
    assert.deepEqual(params(mapper()(entry())), {
      idsite: 7,
      rec: 1,
      apiv: 1,
      rand: 2147483648,
      url: 'https://api.example.org/api/users',
      action_name: '/api/users',
      ua: 'Mozilla/5.0',
      cdt: Math.floor(TIME / 1000),
      pf_srv: 12,
      cvar: '{"http_status_code": 200, "http_method": "GET"}'
    })
  })

  test('rand is a 32-bit unsigned integer', () => {
    for (const r of [0, 0.999999999]) {
      const rand = params(mapper({ random: () => r })(entry())).rand as number
      assert.ok(Number.isInteger(rand) && rand >= 0 && rand < 2 ** 32)
    }
  })

  const cases: Array<{ name: string, options?: Partial<MapperOptions>, entry?: Partial<AccessEntry>, expect: Record<string, unknown>, absent?: string[] }> = [
    { name: 'assume_https (default true) tracks https whatever the logged scheme', entry: { scheme: 'http' }, expect: { url: 'https://api.example.org/api/users' } },
    { name: '--no-assume-https keeps the logged scheme', options: { assumeHttps: false }, entry: { scheme: 'http' }, expect: { url: 'http://api.example.org/api/users' } },
    { name: '--no-assume-https with an https entry', options: { assumeHttps: false }, entry: { scheme: 'https' }, expect: { url: 'https://api.example.org/api/users' } },
    { name: '--no-assume-https without a logged scheme is http', options: { assumeHttps: false }, entry: { scheme: undefined }, expect: { url: 'http://api.example.org/api/users' } },
    { name: 'the query string is part of url but not of action_name', entry: { query: 'page=2&sort=name' }, expect: { url: 'https://api.example.org/api/users?page=2&sort=name', action_name: '/api/users' } },
    { name: 'schemes are case-insensitive with --no-assume-https (X-Forwarded-Proto: HTTPS)', options: { assumeHttps: false }, entry: { scheme: 'HTTPS' }, expect: { url: 'https://api.example.org/api/users' } },
    { name: '--host is the fallback host', options: { host: 'fallback.example.org' }, entry: { host: undefined }, expect: { url: 'https://fallback.example.org/api/users' } },
    { name: 'the entry host wins over --host', options: { host: 'fallback.example.org' }, expect: { url: 'https://api.example.org/api/users' } },
    { name: 'route details override action_name for an exact path', options: { routeDetails: { '/api/users': { action_name: 'Users' } } }, expect: { action_name: 'Users' } },
    { name: 'route details do not apply to other paths', options: { routeDetails: { '/api': { action_name: 'Api' } } }, expect: { action_name: '/api/users' } },
    { name: 'lang comes from Accept-Language (asgi-matomo looked for a header named accept_lang: never sent)', entry: { acceptLanguage: 'de-CH,de;q=0.9' }, expect: { lang: 'de-CH,de;q=0.9' } },
    { name: 'urlref comes from the referrer', entry: { referer: 'https://www.example.org/' }, expect: { urlref: 'https://www.example.org/' } },
    { name: 'no referrer, no urlref', absent: ['urlref', 'lang'], expect: {} },
    { name: 'without a token: no cip and no token_auth', entry: { forwardedFor: '203.0.113.9' }, absent: ['cip', 'token_auth'], expect: {} },
    { name: 'with a token: cip is the remote address; the token goes once per bulk body, never into the params', options: { accessToken: 'secret-token' }, absent: ['token_auth'], expect: { cip: '198.51.100.1' } },
    { name: 'with a token: cip is the FIRST X-Forwarded-For address (asgi-matomo sent the whole header)', options: { accessToken: 't' }, entry: { forwardedFor: '203.0.113.9, 10.0.0.2, 10.0.0.3' }, expect: { cip: '203.0.113.9' } },
    { name: 'an IPv4-mapped IPv6 remote address is sent as IPv4', options: { accessToken: 't' }, entry: { remoteAddress: '::ffff:192.0.2.4' }, expect: { cip: '192.0.2.4' } },
    { name: 'IPv6 addresses are kept', options: { accessToken: 't' }, entry: { forwardedFor: '2001:db8::1' }, expect: { cip: '2001:db8::1' } },
    { name: 'cdt is the entry time in Unix seconds (fractions dropped), not epoch ms', expect: { cdt: 1764057601 } },
    { name: 'pf_srv is integer ms from the response time (asgi-matomo sent gt_ms in µs)', entry: { responseTimeMs: 48.6 }, expect: { pf_srv: 49 }, absent: ['gt_ms'] },
    { name: 'pf_srv is never negative', entry: { responseTimeMs: -3 }, expect: { pf_srv: 0 } },
    { name: 'pf_srv above Matomo\'s 24-bit limit is not sent', entry: { responseTimeMs: 16_777_216 }, absent: ['pf_srv'], expect: {} },
    { name: 'no response time, no pf_srv', entry: { responseTimeMs: undefined }, absent: ['pf_srv'], expect: {} },
    { name: 'cvar holds status and method as Python json.dumps writes them', entry: { status: 404, method: 'DELETE' }, expect: { cvar: '{"http_status_code": 404, "http_method": "DELETE"}' } },
    { name: 'cvar without a method has the status only', entry: { method: undefined }, expect: { cvar: '{"http_status_code": 200}' } },
    { name: 'cvar with an unusual method is escaped like json.dumps', entry: { method: 'M-SEARCH' }, expect: { cvar: '{"http_status_code": 200, "http_method": "M-SEARCH"}' } },
    { name: 'cvar without a status has the method only', entry: { status: undefined }, expect: { cvar: '{"http_method": "GET"}' } },
    { name: '--status-dimension and --method-dimension also send status and method as custom dimensions', options: { statusDimension: 3, methodDimension: 7 }, entry: { status: 404, method: 'DELETE' }, expect: { dimension3: '404', dimension7: 'DELETE', cvar: '{"http_status_code": 404, "http_method": "DELETE"}' } },
    { name: 'no status or method logged, no dimension for it', options: { statusDimension: 3, methodDimension: 7 }, entry: { status: undefined, method: undefined }, absent: ['dimension3', 'dimension7'], expect: {} },
    { name: 'without the dimension options, no dimension is sent', absent: ['dimension1', 'dimension3'], expect: {} },
    { name: 'tracking data can override or remove a status dimension', options: { statusDimension: 3, methodDimension: 7 }, entry: { trackingData: { dimension3: 'teapot', dimension7: null } }, absent: ['dimension7'], expect: { dimension3: 'teapot' } },
    { name: 'an error is a page view like the others by default: a ca=1 hit no plugin handles fails a whole bulk request', entry: { error: 'TypeError: boom', status: 500 }, absent: ['ca', 'cra'], expect: { cvar: '{"http_status_code": 500, "http_method": "GET"}' } },
    { name: 'with --crash-reports an error sets ca=1 and cra (for Matomo\'s Crash Analytics)', options: { crashReports: true }, entry: { error: 'TypeError: boom' }, expect: { ca: 1, cra: 'TypeError: boom' } },
    { name: 'no error, no ca', absent: ['ca', 'cra'], expect: {} },
    { name: 'the user id is sent as uid', entry: { userId: 'u-42' }, expect: { uid: 'u-42' } },
    { name: 'an entry without a user agent sends a placeholder, never an empty ua', entry: { userAgent: undefined }, expect: { ua: ABSENT_USER_AGENT } },
    { name: 'send_image is never part of the params', absent: ['send_image'], expect: {} },
    { name: 'tracking data is merged over the defaults', entry: { trackingData: { e_c: 'orders', e_a: 'created', action_name: 'Order created', pf_srv: 5 } }, expect: { e_c: 'orders', e_a: 'created', action_name: 'Order created', pf_srv: 5 } },
    { name: 'tracking data cvar is merged key by key', entry: { trackingData: { cvar: { plan: 'pro' } } }, expect: { cvar: '{"http_status_code": 200, "http_method": "GET", "plan": "pro"}' } },
    { name: 'tracking data cvar given as JSON text is merged too', entry: { trackingData: { cvar: '{"plan":"pro"}' } }, expect: { cvar: '{"http_status_code": 200, "http_method": "GET", "plan": "pro"}' } },
    { name: 'tracking data cvar overrides a default key', entry: { trackingData: { cvar: { http_status_code: 299 } } }, expect: { cvar: '{"http_status_code": 299, "http_method": "GET"}' } },
    { name: 'route details cvar and tracking data cvar both merge', options: { routeDetails: { '/api/users': { cvar: { route: 'users' } } } }, entry: { trackingData: { cvar: { plan: 'pro' } } }, expect: { cvar: '{"http_status_code": 200, "http_method": "GET", "route": "users", "plan": "pro"}' } },
    { name: 'tracking data wins over route details', options: { routeDetails: { '/api/users': { action_name: 'Users' } } }, entry: { trackingData: { action_name: 'Mine' } }, expect: { action_name: 'Mine' } },
    { name: 'null in tracking data removes a param', entry: { trackingData: { pf_srv: null } }, absent: ['pf_srv'], expect: {} },
    { name: 'objects in tracking data are sent as JSON text, booleans as 1/0', entry: { trackingData: { dimension2: { a: 1 }, new_visit: true } }, expect: { dimension2: '{"a":1}', new_visit: 1 } },
    { name: 'non-ASCII in cvar is escaped like Python (ensure_ascii)', entry: { trackingData: { cvar: { city: 'Zürich' } } }, expect: { cvar: '{"http_status_code": 200, "http_method": "GET", "city": "Z\\u00fcrich"}' } },
    { name: 'DEL (0x7f) in cvar is escaped like Python (outside space..tilde)', entry: { trackingData: { cvar: { k: '\u007f' } } }, expect: { cvar: '{"http_status_code": 200, "http_method": "GET", "k": "\\u007f"}' } },
    { name: 'null cvar in tracking data removes the cvar', entry: { trackingData: { cvar: null } }, absent: ['cvar'], expect: {} },
    { name: 'null cvar in route details removes it; tracking data cvar then starts from nothing', options: { routeDetails: { '/api/users': { cvar: null } } }, entry: { trackingData: { cvar: { plan: 'pro' } } }, expect: { cvar: '{"plan": "pro"}' } },
    { name: 'tracking data cannot set send_image or token_auth', options: { accessToken: 't' }, entry: { trackingData: { send_image: 0, token_auth: 'other' } }, absent: ['send_image', 'token_auth'], expect: {} },
    { name: 'tracking data cannot set cip without a token (Matomo would count the hit invalid)', entry: { trackingData: { cip: '1.1.1.1', token_auth: 'x' } }, absent: ['cip', 'token_auth'], expect: {} },
    { name: 'tracking data may set cip with a token', options: { accessToken: 't' }, entry: { trackingData: { cip: '1.1.1.1' } }, expect: { cip: '1.1.1.1' } }
  ]

  for (const c of cases) {
    test(c.name, () => {
      const p = params(mapper(c.options)(entry(c.entry)))
      for (const [key, value] of Object.entries(c.expect)) assert.deepEqual(p[key], value, key)
      for (const key of c.absent ?? []) assert.equal(key in p, false, `${key} should be absent`)
    })
  }
})

describe('decodePath: Python\'s urllib.parse.unquote, as ASGI servers decode the path', () => {
  test('matches unquote on valid, invalid and partial escapes (outputs taken from Python 3.11)', () => {
    const python: Array<[string, string]> = [
      ['/caf%C3%A9/x%20y', '/café/x y'], ['/a%2Fb', '/a/b'], ['/100%', '/100%'], ['/bad%E0%A4%A', '/bad\ufffd%A'],
      ['/%ZZ%41', '/%ZZA'], ['/%c3%a9%', '/é%'], ['/%F0%9F%98%80x', '/😀x'], ['/%ff%fe', '/\ufffd\ufffd']
    ]
    for (const [raw, decoded] of python) assert.equal(decodePath(raw), decoded, raw)
  })

  test('action_name and route details use the decoded path, the url the logged one', () => {
    const result = params(mapper({ routeDetails: { '/café': { action_name: 'Café' } } })(entry({ path: '/caf%C3%A9' })))
    assert.equal(result.action_name, 'Café')
    assert.equal(result.url, 'https://api.example.org/caf%C3%A9')
    assert.equal(params(mapper()(entry({ path: '/x%20y' }))).action_name, '/x y')
  })
})

describe('createMapper: exclusions (paths, then methods, then patterns)', () => {
  const cases: Array<{ name: string, options: Partial<MapperOptions>, entry?: Partial<AccessEntry>, expect: string | 'tracked' }> = [
    { name: 'an exact excluded path', options: { excludePath: ['/api/users'] }, expect: 'excluded_path' },
    { name: 'exclude_paths is exact: a longer path is tracked', options: { excludePath: ['/api'] }, expect: 'tracked' },
    { name: 'exclude_paths ignores the query string', options: { excludePath: ['/api/users'] }, entry: { query: 'x=1' }, expect: 'excluded_path' },
    { name: 'a pattern matches at the start like re.match: .*/old excludes /api/old/x', options: { excludePattern: ['.*/old'] }, entry: { path: '/api/old/x' }, expect: 'excluded_pattern' },
    { name: 'a pattern is not searched anywhere: "old" does not exclude /api/old', options: { excludePattern: ['old'] }, entry: { path: '/api/old' }, expect: 'tracked' },
    { name: 'an alternation stays anchored on both sides', options: { excludePattern: ['/static|/assets'] }, entry: { path: '/x/assets' }, expect: 'tracked' },
    { name: 'an alternation matches either at the start', options: { excludePattern: ['/static|/assets'] }, entry: { path: '/assets/a.css' }, expect: 'excluded_pattern' },
    { name: 'Python named groups are accepted', options: { excludePattern: ['/(?P<v>v[0-9])/old'] }, entry: { path: '/v1/old' }, expect: 'excluded_pattern' },
    { name: 'Python \\Z is the end of the path', options: { excludePattern: ['/api/users\\Z'] }, expect: 'excluded_pattern' },
    { name: 'Python \\Z does not match before more path', options: { excludePattern: ['/api/user\\Z'] }, expect: 'tracked' },
    { name: 'Python \\A is the start of the path', options: { excludePattern: ['\\A/api'] }, expect: 'excluded_pattern' },
    { name: 'Python {,n} is {0,n}', options: { excludePattern: ['/api/us{,2}ers$'] }, expect: 'excluded_pattern' },
    { name: 'an escaped backslash before Z stays a backslash and a Z', options: { excludePattern: ['/api\\\\Z'] }, expect: 'tracked' },
    { name: 'Python inline flags at the start, (?i), become the regex\'s flags', options: { excludePattern: ['(?i)/API/USERS'] }, expect: 'excluded_pattern' },
    { name: 'Python (?s) lets . match a newline', options: { excludePattern: ['(?s)/api.users'] }, entry: { path: '/api\nusers' }, expect: 'excluded_pattern' },
    { name: 'several flag groups at the start, (?i)(?s)', options: { excludePattern: ['(?i)(?s)/API.USERS'] }, entry: { path: '/api\nusers' }, expect: 'excluded_pattern' },
    { name: '\\Z is the end of the path even under (?m)', options: { excludePattern: ['(?m)/api\\Z'] }, entry: { path: '/api\nfoo' }, expect: 'tracked' },
    { name: 'Python backreference (?P=name) is accepted', options: { excludePattern: ['/(?P<x>api)/users/?(?P=x)?'] }, expect: 'excluded_pattern' },
    { name: 'a pattern matches every time, not every other time (sticky regex reset)', options: { excludePattern: ['/a'] }, entry: { path: '/a' }, expect: 'excluded_pattern' },
    { name: 'ignored methods are case-insensitive', options: { ignoredMethod: ['options'] }, entry: { method: 'OPTIONS' }, expect: 'excluded_method' },
    { name: 'allowed methods: others are excluded', options: { allowedMethod: ['get', 'post'] }, entry: { method: 'PUT' }, expect: 'excluded_method' },
    { name: 'allowed methods: listed ones are tracked', options: { allowedMethod: ['get', 'post'] }, entry: { method: 'post' }, expect: 'tracked' },
    { name: 'ignored wins over allowed', options: { allowedMethod: ['GET'], ignoredMethod: ['GET'] }, expect: 'excluded_method' },
    { name: 'paths are tried before methods', options: { excludePath: ['/api/users'], ignoredMethod: ['GET'] }, expect: 'excluded_path' },
    { name: 'methods are tried before patterns', options: { excludePattern: ['/api'], ignoredMethod: ['GET'] }, expect: 'excluded_method' },
    { name: 'paths are matched percent-decoded, as the ASGI path asgi-matomo sees', options: { excludePath: ['/café/x y'] }, entry: { path: '/caf%C3%A9/x%20y' }, expect: 'excluded_path' },
    { name: 'patterns are matched against the decoded path', options: { excludePattern: ['/café'] }, entry: { path: '/caf%c3%a9/menu' }, expect: 'excluded_pattern' }
  ]
  for (const c of cases) {
    test(c.name, () => {
      const map = mapper(c.options)
      for (let i = 0; i < 3; i++) {
        const result = map(entry(c.entry))
        if (c.expect === 'tracked') params(result)
        else assert.equal(result, c.expect)
      }
    })
  }
})

describe('createMapper: entries that cannot be mapped', () => {
  test('no host and no --host is a missing_field:host problem', () => {
    const result = mapper()(entry({ host: undefined }))
    assert.ok(isLineIssue(result))
    assert.equal(result.reason, 'missing_field:host')
    assert.equal(result.kind, 'reject')
  })
})

describe('createMapper: a cdt set by route details or tracking data', () => {
  const seconds = Math.floor(TIME / 1000)
  const reasonOf = (result: ReturnType<ReturnType<typeof createMapper>>): string | undefined => isLineIssue(result) ? result.reason : undefined
  test('gets the checks of the logged time: far future, 20 years old, or 24 hours old without a token', () => {
    assert.equal(reasonOf(mapper()(entry({ trackingData: { cdt: 1 } }))), 'cdt_out_of_range')
    assert.equal(reasonOf(mapper({ routeDetails: { '/api/users': { cdt: seconds + 86_400 } } })(entry())), 'cdt_out_of_range')
    const old = mapper()(entry({ trackingData: { cdt: seconds - 5 * 86_400 } }))
    assert.equal(reasonOf(old), 'cdt_requires_token')
    assert.notEqual(old, CDT_REQUIRES_TOKEN, 'not the instance that stops a read at its first hit (it names the logged time)')
    assert.equal(params(mapper({ accessToken: 't' })(entry({ trackingData: { cdt: seconds - 5 * 86_400 } }))).cdt, seconds - 5 * 86_400)
  })
  test('must be Unix seconds or a UTC datetime; a numeric string or a fraction is sent whole', () => {
    assert.equal(reasonOf(mapper()(entry({ trackingData: { cdt: '2999-01-01 00:00:00' } }))), 'cdt_out_of_range')
    assert.equal(reasonOf(mapper()(entry({ trackingData: { cdt: 'yesterday' } }))), 'invalid_field:cdt')
    const at = new Date(TIME - 3_600_000).toISOString().slice(0, 19).replace('T', ' ')
    assert.equal(params(mapper()(entry({ trackingData: { cdt: at } }))).cdt, Math.floor((TIME - 3_600_000) / 1000), 'a UTC datetime, as Matomo reads it, sent as seconds')
    assert.equal(params(mapper()(entry({ trackingData: { cdt: String(seconds - 10) + '.75' } }))).cdt, seconds - 10)
    assert.equal(params(mapper()(entry({ trackingData: { cdt: null } }))).cdt, undefined, 'null still removes it')
  })
})
