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

/** Reads a dotted path ("request.headers.host") from a record; a path without dots is one lookup. */
export function pick (record: JsonRecord, path: string): unknown {
  if (!path.includes('.')) return record[path]
  let current: unknown = record
  for (const part of path.split('.')) {
    if (!isRecord(current)) return undefined
    current = current[part]
  }
  return current
}

/** Splits "/a/b?x=1" into path and query; the path always starts with '/'. */
export function splitUri (uri: string): { path: string, query: string | undefined } {
  const q = uri.indexOf('?')
  const path = q === -1 ? uri : uri.slice(0, q)
  const query = q === -1 || q === uri.length - 1 ? undefined : uri.slice(q + 1)
  return { path: path.startsWith('/') ? path : '/' + path, query }
}

const HAS_OFFSET = /(?:[zZ]|[+-]\d{2}:?\d{2})$/
const ISO_LIKE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?/

/**
 * Parses an RFC 3339 / ISO 8601 time to epoch ms. Times without an offset are in `defaultOffsetMinutes`
 * (UTC unless --timezone says otherwise). Returns NaN when the text is not such a time.
 */
export function parseIsoTime (text: string, zone: TimeZone = UTC): number {
  if (!ISO_LIKE.test(text)) return NaN
  let normalised = text.charCodeAt(10) === 32 ? text.slice(0, 10) + 'T' + text.slice(11) : text
  if (normalised.includes(',')) normalised = normalised.replace(',', '.')
  if (HAS_OFFSET.test(normalised)) {
    // "+0100" is not accepted by Date.parse; insert the colon.
    const m = /([+-]\d{2})(\d{2})$/.exec(normalised)
    if (m !== null) normalised = normalised.slice(0, -4) + m[1] + ':' + (m[2] ?? '00')
    return Date.parse(normalised)
  }
  const asUtc = Date.parse(normalised + 'Z')
  return Number.isNaN(asUtc) ? NaN : asUtc - zone.offsetMsAt(asUtc)
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
