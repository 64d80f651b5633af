// The normalised access entry every format produces, and the value coercions formats share.

/** One request, as recorded by any supported log format. Absent values are undefined. */
export interface AccessEntry {
  method: string | undefined
  /** Logged scheme ('http' | 'https'), used when --no-assume-https. */
  scheme: string | undefined
  host: string | undefined
  /** Path without the query string; always starts with '/'. */
  path: string
  /** Query string without the leading '?'. */
  query: string | undefined
  status: number | undefined
  userAgent: string | undefined
  referer: string | undefined
  acceptLanguage: string | undefined
  /** The socket peer address. */
  remoteAddress: string | undefined
  /** The raw X-Forwarded-For value (comma-separated list). */
  forwardedFor: string | undefined
  responseTimeMs: number | undefined
  /** Request time, epoch milliseconds UTC. */
  timeMs: number
  /** Error recorded with the request, as "Type: message". */
  error: string | undefined
  userId: string | undefined
  /** Per-request Matomo params logged by the app (asgi-matomo's scope["state"]["asgi_matomo"]). */
  trackingData: Record<string, unknown> | undefined
  /** The request id the server logged (pino-http `req.id`), for reports; optional so other producers may omit it. */
  requestId?: string | undefined
}

/**
 * A line that yields no entry: rejected (an input problem) or skipped (deliberately not a request).
 * A class, so that `instanceof` tells it from any parsed JSON record, whatever keys the record has.
 */
export class LineIssue {
  constructor (
    readonly kind: 'reject' | 'skip',
    /** Low-cardinality reason: invalid_json, missing_field:path, not_an_access_entry, ... */
    readonly reason: string,
    /** Human detail for logs and the reject file. */
    readonly message: string
  ) {}
}

export type ParseResult = AccessEntry | LineIssue

export function isLineIssue (value: unknown): value is LineIssue {
  return value instanceof LineIssue
}

export function reject (reason: string, message: string): LineIssue {
  return new LineIssue('reject', reason, message)
}

export const NOT_AN_ACCESS_ENTRY: LineIssue = Object.freeze(new LineIssue('skip', 'not_an_access_entry', 'a log line that records no request'))

export type JsonRecord = Record<string, unknown>

export function isRecord (value: unknown): value is JsonRecord {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** `-`, empty string, null and undefined are "absent"; numbers become strings. */
export function str (value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' || value === '-' ? undefined : value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}

/** A number or a numeric string; absent or non-numeric gives undefined. */
export function num (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value === 'string' && value !== '' && value !== '-') {
    const n = Number(value)
    return Number.isFinite(n) ? n : undefined
  }
  return undefined
}

/** First value of a header that may be logged as a string or as an array of strings (Caddy). */
export function header (value: unknown): string | undefined {
  if (Array.isArray(value)) return str(value[0])
  return str(value)
}

/**
 * A list-valued header (X-Forwarded-For) logged as one value per header line: the lines joined in order, as
 * HTTP combines them. Taking only the first line would let a client pick the address a proxy appends below.
 */
export function listHeader (value: unknown): string | undefined {
  if (!Array.isArray(value)) return str(value)
  const parts: string[] = []
  for (const item of value) {
    const text = str(item)
    if (text !== undefined) parts.push(text)
  }
  return parts.length === 0 ? undefined : parts.join(', ')
}

/** Reads a path already split into its parts (split once, at start, for the hot path). */
export function pickPath (record: JsonRecord, parts: readonly string[]): unknown {
  let current: unknown = record
  for (let i = 0; i < parts.length; i++) {
    if (!isRecord(current)) return undefined
    current = current[parts[i] as string]
  }
  return current
}

/**
 * Splits "/a/b?x=1" into path and query; the path always starts with '/'. An absolute-form request target
 * ("http://host/a?x=1", sent to proxies and by scanners) keeps only its path and query.
 */
export function splitUri (uri: string): { path: string, query: string | undefined } {
  let from = 0
  if (uri.charCodeAt(0) !== 47 /* / */ && ABSOLUTE_URI.test(uri)) {
    const slash = uri.indexOf('/', uri.indexOf('//') + 2)
    if (slash === -1) return { path: '/', query: undefined }
    from = slash
  }
  const q = uri.indexOf('?', from)
  const path = q === -1 ? uri.slice(from) : uri.slice(from, q)
  const query = q === -1 || q === uri.length - 1 ? undefined : uri.slice(q + 1)
  return { path: path.charCodeAt(0) === 47 ? path : '/' + path, query }
}

const ABSOLUTE_URI = /^https?:\/\//i

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/** Reads two ASCII digits at `at`; -1 if either is not a digit (NaN past the end of the text fails the test too). */
function twoDigits (text: string, at: number): number {
  const high = text.charCodeAt(at) - 48
  const low = text.charCodeAt(at + 1) - 48
  return high >= 0 && high <= 9 && low >= 0 && low <= 9 ? high * 10 + low : -1
}

/**
 * The last valid date parsed (YYYYMMDD as a number) and its midnight, epoch ms UTC: consecutive log lines share
 * their date, and Date.UTC is the costly part. A pure memo (the same date always has the same midnight), so it
 * is shared by every caller whatever its time zone.
 */
let cachedDateKey = -1
let cachedDateMs = 0

/**
 * Parses an RFC 3339 / ISO 8601 date-time to epoch ms: `YYYY-MM-DD`, `T`, `t` or a space, `HH:MM[:SS[.fraction]]`,
 * then `Z`, `±HH:MM`, `±HHMM` or nothing. Times without an offset are in `zone` (UTC unless --timezone says
 * otherwise). Fractions beyond milliseconds are truncated. Returns NaN for anything else, including impossible
 * dates (February 30th), which Date.parse would roll over into the next month.
 */
export function parseIsoTime (text: string, zone: TimeZone = UTC): number {
  const length = text.length
  if (length < 16 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(13) !== 58) return NaN
  const sep = text.charCodeAt(10)
  if (sep !== 84 /* T */ && sep !== 116 /* t */ && sep !== 32) return NaN
  const century = twoDigits(text, 0)
  const yearOfCentury = twoDigits(text, 2)
  const month = twoDigits(text, 5)
  const day = twoDigits(text, 8)
  if (century < 0 || yearOfCentury < 0 || month < 0 || day < 0) return NaN
  const dateKey = ((century * 100 + yearOfCentury) * 100 + month) * 100 + day
  let dateMs: number
  if (dateKey === cachedDateKey) {
    // Same digits as the last valid date: valid too, same midnight.
    dateMs = cachedDateMs
  } else {
    const year = century * 100 + yearOfCentury
    // Years below 100 are never log times (and Date.UTC would read them as 19xx).
    if (year < 100 || month < 1 || month > 12 || day < 1) return NaN
    if (day > (DAYS_IN_MONTH[month - 1] as number) || (month === 2 && day === 29 && !isLeapYear(year))) return NaN
    dateMs = Date.UTC(year, month - 1, day)
    cachedDateKey = dateKey
    cachedDateMs = dateMs
  }
  const hour = twoDigits(text, 11)
  const minute = twoDigits(text, 14)
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59) return NaN
  let at = 16
  let second = 0
  let ms = 0
  if (text.charCodeAt(at) === 58 /* : */) {
    second = twoDigits(text, at + 1)
    // 60 is a leap second: kept as the last instant of the minute rather than rejected.
    if (second < 0 || second > 60) return NaN
    if (second === 60) second = 59
    at += 3
    const dot = text.charCodeAt(at)
    if (dot === 46 /* . */ || dot === 44 /* , */) {
      at++
      const fracStart = at
      let scale = 100
      while (at < length) {
        const d = text.charCodeAt(at) - 48
        if (d < 0 || d > 9) break
        ms += d * scale
        scale /= 10
        at++
      }
      if (at === fracStart) return NaN
      ms = Math.floor(ms)
    }
  }
  // Exactly Date.UTC(year, month - 1, day, hour, minute, second, ms): every part is an integer in range.
  const local = dateMs + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms
  if (at === length) return local - zone.offsetMsAt(local)
  const sign = text.charCodeAt(at)
  if ((sign === 90 /* Z */ || sign === 122 /* z */) && at + 1 === length) return local
  if (sign !== 43 /* + */ && sign !== 45 /* - */) return NaN
  const offsetHour = twoDigits(text, at + 1)
  const colon = text.charCodeAt(at + 3) === 58 ? 1 : 0
  const offsetMinute = twoDigits(text, at + 3 + colon)
  if (offsetHour < 0 || offsetHour > 23 || offsetMinute < 0 || offsetMinute > 59 || at + 5 + colon !== length) return NaN
  const offsetMs = (offsetHour * 60 + offsetMinute) * 60_000
  return sign === 43 ? local - offsetMs : local + offsetMs
}

function isLeapYear (year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
}

/** A time zone for log times without an offset. */
export interface TimeZone {
  /** Offset from UTC in ms of local wall-clock time `localAsUtcMs` (interpreted as if UTC). */
  offsetMsAt: (localAsUtcMs: number) => number
}

export const UTC: TimeZone = Object.freeze({ offsetMsAt: () => 0 })

/** Builds a TimeZone from "UTC", "+02:00" / "-0530", or an IANA name ("Europe/Paris"). */
export function createTimeZone (name: string): TimeZone {
  if (name === 'UTC' || name === 'Z' || name === 'Etc/UTC') return UTC
  const fixed = /^([+-])(\d{2}):?(\d{2})$/.exec(name)
  if (fixed !== null) {
    const ms = (Number(fixed[2]) * 60 + Number(fixed[3])) * 60_000 * (fixed[1] === '-' ? -1 : 1)
    return { offsetMsAt: () => ms }
  }
  const dtf = new Intl.DateTimeFormat('en-US', {
    timeZone: name,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric'
  })
  const offsetOfInstant = (instant: number): number => {
    const parts: Record<string, number> = {}
    for (const p of dtf.formatToParts(instant)) if (p.type !== 'literal') parts[p.type] = Number(p.value)
    const wall = Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
    return wall - (instant - (instant % 1000 + 1000) % 1000)
  }
  // Cache per hour of wall time: zone offsets change at most at hour boundaries.
  const cache = new Map<number, number>()
  return {
    offsetMsAt (localAsUtcMs: number): number {
      const hour = Math.floor(localAsUtcMs / 3_600_000)
      let offset = cache.get(hour)
      if (offset === undefined) {
        // Two passes resolve the offset of a wall-clock time (the first guess may straddle a DST change).
        const guess = offsetOfInstant(localAsUtcMs)
        offset = offsetOfInstant(localAsUtcMs - guess)
        if (cache.size > 10_000) cache.clear()
        cache.set(hour, offset)
      }
      return offset
    }
  }
}
