// AccessEntry → Matomo tracking params, by asgi-matomo's rules (with its bugs fixed); compiled once per run.
import { reject, type AccessEntry, type LineIssue } from '../formats/access-entry.js'
import { createClientIpPicker } from './client-ip.js'
import { pythonJsonDumps } from './python-json.js'
import { decodePath } from './decode-path.js'
import { compileRules, type MappingRules } from './rules.js'

/** The params of one hit, as sent in a bulk body item. */
export type TrackingParams = Record<string, string | number>

/** Why an entry was deliberately not tracked. */
export type FilterReason = 'excluded_path' | 'excluded_method' | 'excluded_pattern'

/** Params, the reason a rule excluded the entry, or the problem that keeps it from being mapped. */
export type MappingResult = TrackingParams | FilterReason | LineIssue

/** Matomo drops pf_* values above this (24-bit) silently; larger values are not sent. */
const PF_MAX = 16_777_215

/** Sent as `ua` when an entry records none: an empty or missing ua makes Matomo record the forwarder's own UA. */
export const ABSENT_USER_AGENT = '-'

const MISSING_HOST = reject('missing_field:host', 'the entry records no host that a URL can carry; set --host')

/** Matomo needs an authenticated token for a cdt this old (tracking_requests_require_authentication_when_custom_timestamp_newer_than). */
export const TOKEN_AGE_MS = 86_400_000
/** Tolerated difference between this machine's clock and Matomo's, and time for a hit to reach Matomo. */
export const CLOCK_SKEW_MS = 5 * 60_000
/** Matomo replaces a cdt older than this by "now" (Request::isTimestampValid). */
export const MAX_AGE_MS = 20 * 365 * 86_400_000

/** A hit without a token whose time is (nearly) 24 h old: Matomo would count it invalid. One shared instance. */
const TOKEN_HINT = 'Matomo records such hits only with a token that has write access to the site (--access-token-file)'
export const CDT_REQUIRES_TOKEN = reject('cdt_requires_token', `the request is more than 24 hours old; ${TOKEN_HINT}`)
/** The same for a cdt set by route details or tracking data: a separate instance, since CDT_REQUIRES_TOKEN stops a read at its first hit, naming the logged time. */
const GIVEN_CDT_REQUIRES_TOKEN = reject('cdt_requires_token', `the cdt from tracking data or route details is more than 24 hours old; ${TOKEN_HINT}`)

export interface MapperOptions extends MappingRules {
  idsite: number
  accessToken: string | undefined
  assumeHttps: boolean
  /**
   * Entries with an error as crash reports (ca=1, cra). Off by default: a ca=1 hit that no plugin handles makes
   * Matomo throw (Action::factory, "Request was meant for a plugin which is no longer activated"), and in a bulk
   * request that exception rolls back and fails every hit of it. @default false
   */
  crashReports?: boolean
  host: string | undefined
  trustedProxy: readonly string[]
  /** Custom dimension ids that also carry the status and the method (cvar needs a plugin since Matomo 4). */
  statusDimension?: number | undefined
  methodDimension?: number | undefined
  /** Random source for `rand`; injectable for tests. */
  random?: () => number
  /** Clock for the cdt checks; injectable for tests. @default Date.now */
  nowMs?: () => number
  /** Reject hits older than 24 h when there is no token (off for --dry-run, which often runs without one). @default true */
  oldHitsNeedToken?: boolean
}

export type Mapper = (entry: AccessEntry) => MappingResult

export function createMapper (options: MapperOptions): Mapper {
  const rules = compileRules(options)
  const pickClientIp = createClientIpPicker(options.trustedProxy)
  const random = options.random ?? Math.random
  const nowMs = options.nowMs ?? Date.now
  const oldHitsNeedToken = options.accessToken === undefined && options.oldHitsNeedToken !== false
  const { idsite, assumeHttps, host: fallbackHost } = options
  const crashReports = options.crashReports === true
  const withToken = options.accessToken !== undefined
  // A Map: indexing the config object by a fresh path string costs a string-table lookup per line.
  const routes = new Map(Object.entries(options.routeDetails))
  const hasRoutes = routes.size > 0
  const statusKey = options.statusDimension === undefined ? undefined : 'dimension' + String(options.statusDimension)
  const methodKey = options.methodDimension === undefined ? undefined : 'dimension' + String(options.methodDimension)

  return function map (entry: AccessEntry): MappingResult {
    // Rules, routes and action_name see the path as asgi-matomo does (the ASGI path: percent-decoded), the url keeps it as logged.
    const path = entry.path.indexOf('%') === -1 ? entry.path : decodePath(entry.path)
    const excluded = rules.exclusion(path, entry.method)
    if (excluded !== undefined) return excluded

    const host = entry.host ?? fallbackHost
    if (host === undefined) return MISSING_HOST

    const timeMs = entry.timeMs
    const now = nowMs()
    const timeProblem = timeIssue(timeMs, now, oldHitsNeedToken, CDT_REQUIRES_TOKEN)
    if (timeProblem !== undefined) return timeProblem

    const scheme = assumeHttps || isHttps(entry.scheme) ? 'https' : 'http'
    const url = entry.query === undefined
      ? scheme + '://' + host + entry.path
      : scheme + '://' + host + entry.path + '?' + entry.query

    const params: TrackingParams = {
      idsite,
      rec: 1,
      apiv: 1,
      rand: Math.floor(random() * 4294967296),
      url,
      action_name: path,
      ua: entry.userAgent ?? ABSENT_USER_AGENT
    }
    if (entry.acceptLanguage !== undefined) params.lang = entry.acceptLanguage
    if (entry.referer !== undefined) params.urlref = entry.referer
    // The token itself goes once per bulk body (it authenticates every item of it), never into the params.
    if (withToken) {
      const cip = pickClientIp(entry.forwardedFor, entry.remoteAddress)
      if (cip !== undefined) params.cip = cip
    }
    if (entry.userId !== undefined) params.uid = entry.userId
    // cdt: Unix seconds; Matomo truncates fractions and reads epoch ms as a date far in the future.
    params.cdt = Math.floor(timeMs / 1000)
    if (entry.responseTimeMs !== undefined) {
      // pf_srv replaces asgi-matomo's gt_ms (which Matomo 4+ ignores, and which it sent in µs).
      const ms = Math.round(entry.responseTimeMs)
      if (ms <= PF_MAX) params.pf_srv = ms > 0 ? ms : 0
    }

    const route = hasRoutes ? routes.get(path) : undefined
    const data = entry.trackingData
    const routeCvar = route?.cvar
    const dataCvar = data?.cvar
    const customCvar = routeCvar !== undefined || dataCvar !== undefined
    if (!customCvar) params.cvar = defaultCvar(entry.status, entry.method)
    if (statusKey !== undefined && entry.status !== undefined) params[statusKey] = String(entry.status)
    if (methodKey !== undefined && entry.method !== undefined) params[methodKey] = entry.method
    if (crashReports && entry.error !== undefined) {
      params.ca = 1
      params.cra = entry.error
    }
    // Route details, then the entry's own data, are merged over the defaults (asgi-matomo's order).
    if (route !== undefined) mergeParams(params, route, withToken)
    if (data !== undefined) mergeParams(params, data, withToken)
    if ((route !== undefined && 'cdt' in route) || (data !== undefined && 'cdt' in data)) {
      // A cdt given there gets the checks of the logged time: Matomo would record it at the wrong time, or
      // count it invalid without a token, without a word.
      const issue = checkGivenCdt(params, now, oldHitsNeedToken)
      if (issue !== undefined) return issue
    }
    if (customCvar) {
      let merged: Record<string, unknown> | string | undefined = {}
      if (entry.status !== undefined) merged.http_status_code = entry.status
      if (entry.method !== undefined) merged.http_method = entry.method
      // null removes the cvar (as for any param); a later value starts again from nothing.
      for (const extra of [routeCvar, dataCvar]) {
        if (extra === null) merged = undefined
        else if (extra !== undefined) merged = mergeCvar(merged ?? {}, extra)
      }
      if (merged === undefined) Reflect.deleteProperty(params, 'cvar')
      else params.cvar = typeof merged === 'string' ? merged : pythonJsonDumps(merged)
    }
    return params
  }
}

/** Schemes are case-insensitive (a proxy may send X-Forwarded-Proto: HTTPS). */
function isHttps (scheme: string | undefined): boolean {
  return scheme !== undefined && (scheme === 'https' || scheme.toLowerCase() === 'https')
}

const UNIX_SECONDS = /^\d{1,12}(?:\.\d+)?$/
/** "2024-01-01 10:00:00" (Matomo reads a non-numeric cdt with strtotime, in UTC), or the same with a T. */
const UTC_DATETIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)$/

/** Checks a cdt that route details or tracking data set, sent as whole Unix seconds; undefined when it may be sent. */
function checkGivenCdt (params: TrackingParams, now: number, oldHitsNeedToken: boolean): LineIssue | undefined {
  const value = params.cdt
  if (value === undefined) return undefined
  const text = String(value)
  const datetime = UTC_DATETIME.exec(text)
  const timeMs = UNIX_SECONDS.test(text) ? Number(text) * 1000 : datetime !== null ? Date.parse(`${datetime[1]}T${datetime[2]}Z`) : NaN
  if (Number.isNaN(timeMs)) {
    return reject('invalid_field:cdt', `a cdt from tracking data or route details must be Unix seconds or a UTC "YYYY-MM-DD HH:MM:SS", got ${JSON.stringify(value)}`)
  }
  const problem = timeIssue(timeMs, now, oldHitsNeedToken, GIVEN_CDT_REQUIRES_TOKEN)
  if (problem !== undefined) return problem
  params.cdt = Math.floor(timeMs / 1000)
  return undefined
}

/**
 * Times Matomo would mishandle without a word: recorded "now" (in the future, or more than 20 years old), or
 * counted invalid (`tooOld`: nearly 24 hours old, without a token).
 */
function timeIssue (timeMs: number, now: number, oldHitsNeedToken: boolean, tooOld: LineIssue): LineIssue | undefined {
  if (timeMs > now + CLOCK_SKEW_MS || timeMs < now - MAX_AGE_MS) return cdtOutOfRange(timeMs, now)
  if (oldHitsNeedToken && now - timeMs >= TOKEN_AGE_MS - CLOCK_SKEW_MS) return tooOld
  return undefined
}

function cdtOutOfRange (timeMs: number, now: number): LineIssue {
  const when = Number.isFinite(timeMs) && Math.abs(timeMs) < 8.64e15 ? new Date(timeMs).toISOString() : String(timeMs)
  const what = timeMs > now ? 'in the future' : 'more than 20 years ago'
  return reject('cdt_out_of_range', `the request time ${when} is ${what}; Matomo would record it at the time of import instead`)
}

/**
 * Params route details or an entry's data may not set: send_image makes Matomo answer 204 instead of the bulk
 * counts (never in a bulk body), and token_auth is the run's token or none.
 */
const NOT_FROM_DATA = new Set(['send_image', 'token_auth'])

/**
 * null removes a param; objects and arrays are sent as JSON text; cvar is merged separately. Without a token,
 * cip is not taken either (Matomo counts a hit with cip and no token invalid).
 */
function mergeParams (params: TrackingParams, data: Readonly<Record<string, unknown>>, withToken: boolean): void {
  for (const key of Object.keys(data)) {
    if (key === 'cvar' || NOT_FROM_DATA.has(key) || (key === 'cip' && !withToken)) continue
    const value = data[key]
    if (value === null || value === undefined) Reflect.deleteProperty(params, key)
    else if (typeof value === 'string' || typeof value === 'number') params[key] = value
    else if (typeof value === 'boolean') params[key] = value ? 1 : 0
    else params[key] = JSON.stringify(value)
  }
}

/**
 * asgi-matomo merges cvar objects key by key. An object (or JSON text of one) is merged; any other value
 * replaces the whole cvar as given. Returns the merged object, or the replacement text.
 */
function mergeCvar (base: Record<string, unknown> | string, extra: unknown): Record<string, unknown> | string {
  if (extra === undefined) return base
  const parsed = typeof extra === 'string' ? safeParseObject(extra) : extra
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && typeof base !== 'string') {
    return Object.assign(base, parsed)
  }
  return typeof extra === 'string' ? extra : JSON.stringify(extra)
}

function safeParseObject (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const PLAIN_METHOD = /^[A-Za-z]{1,16}$/

/** pythonJsonDumps({http_status_code, http_method}) without the general serializer, for the common case. */
function defaultCvar (status: number | undefined, method: string | undefined): string {
  if (method === undefined) {
    return status === undefined ? '{}' : '{"http_status_code": ' + String(status) + '}'
  }
  if (PLAIN_METHOD.test(method)) {
    return status === undefined
      ? '{"http_method": "' + method + '"}'
      : '{"http_status_code": ' + String(status) + ', "http_method": "' + method + '"}'
  }
  const cvar: Record<string, unknown> = {}
  if (status !== undefined) cvar.http_status_code = status
  cvar.http_method = method
  return pythonJsonDumps(cvar)
}

