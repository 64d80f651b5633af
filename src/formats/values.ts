// Value coercions shared by the formats: epoch and nginx times, durations in each unit, status codes, header lists.
import { isRecord, num, parseIsoTime, str, type TimeZone } from './access-entry.js'

/** Units of a numeric time: seconds, milliseconds, microseconds or nanoseconds since 1970-01-01 UTC. */
export type EpochUnit = 'epoch-s' | 'epoch-ms' | 'epoch-us' | 'epoch-ns'
/** Units of a time field: an epoch unit, an RFC 3339 text, or nginx's $time_local (`10/Oct/2025:13:55:36 -0700`). */
export type TimeUnit = EpochUnit | 'iso8601' | 'clf'
/** Units of a duration. */
export type DurationUnit = 's' | 'ms' | 'us' | 'ns'

export const TIME_UNITS: readonly TimeUnit[] = Object.freeze(['iso8601', 'epoch-s', 'epoch-ms', 'epoch-us', 'epoch-ns', 'clf'])
export const DURATION_UNITS: readonly DurationUnit[] = Object.freeze(['s', 'ms', 'us', 'ns'])

const MS_PER_EPOCH_UNIT: Readonly<Record<EpochUnit, number>> = { 'epoch-s': 1000, 'epoch-ms': 1, 'epoch-us': 1e-3, 'epoch-ns': 1e-6 }
const MS_PER_DURATION_UNIT: Readonly<Record<DurationUnit, number>> = { s: 1000, ms: 1, us: 1e-3, ns: 1e-6 }

/** Value of a time field that is absent (undefined, null, empty, `-`): callers report missing_field. */
export function isAbsent (value: unknown): boolean {
  return value === undefined || value === null || value === '' || value === '-'
}

/**
 * Epoch ms of a number or numeric string in `unit`; NaN for anything else. The unit comes from the format
 * (or the fields map), never from the size of the number.
 */
export function epochToMs (value: unknown, unit: EpochUnit): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : NaN
  return Number.isFinite(n) ? n * MS_PER_EPOCH_UNIT[unit] : NaN
}

/** Epoch ms of a time field in `unit`; NaN when the value does not fit the unit. */
export function timeToMs (value: unknown, unit: TimeUnit, zone: TimeZone): number {
  switch (unit) {
    case 'iso8601': return typeof value === 'string' ? parseIsoTime(value, zone) : NaN
    case 'clf': return typeof value === 'string' ? parseClfTime(value) : NaN
    default: return epochToMs(value, unit)
  }
}

const MONTHS: Readonly<Record<string, number>> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 }
const CLF_TIME = /^\[?(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? ([+-])(\d{2})(\d{2})\]?$/

/** nginx $time_local / Apache %t: `10/Oct/2025:13:55:36 -0700` (brackets allowed) → epoch ms; NaN otherwise. */
export function parseClfTime (text: string): number {
  const m = CLF_TIME.exec(text)
  if (m === null) return NaN
  const month = MONTHS[m[2] as string]
  const day = Number(m[1])
  const hour = Number(m[4])
  const minute = Number(m[5])
  const second = Number(m[6])
  if (month === undefined || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return NaN
  const ms = m[7] === undefined ? 0 : Math.floor(Number('0.' + m[7]) * 1000)
  const local = Date.UTC(Number(m[3]), month, day, hour, minute, Math.min(second, 59), ms)
  // Reject dates Date.UTC would roll over (31/Feb).
  if (new Date(local).getUTCDate() !== day) return NaN
  const offsetMs = (Number(m[9]) * 60 + Number(m[10])) * 60_000
  return m[8] === '+' ? local - offsetMs : local + offsetMs
}

/** A duration in `unit` as ms; absent or not a number gives undefined (a bad duration never costs the hit). */
export function durationToMs (value: unknown, unit: DurationUnit): number | undefined {
  const n = num(value)
  return n === undefined ? undefined : n * MS_PER_DURATION_UNIT[unit]
}

const GO_DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y
const GO_UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Go's time.Duration text ("1.5ms", "2m3.5s", "929.675µs"), as Caddy writes with duration_format string; undefined if not one. */
export function parseGoDuration (text: string): number | undefined {
  if (text === '0') return 0
  GO_DURATION_PART.lastIndex = 0
  let total = 0
  let matched = false
  while (GO_DURATION_PART.lastIndex < text.length) {
    const m = GO_DURATION_PART.exec(text)
    if (m === null) return undefined
    total += Number(m[1]) * (GO_UNIT_MS[m[2] as string] as number)
    matched = true
  }
  return matched ? total : undefined
}

/** Marks a present value that is not a status code: the line is rejected as invalid_field:<path>. */
export const INVALID = -1

/** An HTTP status as a number or numeric string; undefined when absent, INVALID when present but not 0–999. */
const STATUS_TEXT = /^\s*\d{1,3}\s*$/

export function statusOf (value: unknown): number | undefined {
  if (value === undefined || value === null || value === '' || value === '-') return undefined
  // Digits only in a string: Number() would also read "0x1F" as 31 and "2e2" as 200.
  const n = typeof value === 'number' ? value : typeof value === 'string' && STATUS_TEXT.test(value) ? Number(value) : NaN
  return Number.isInteger(n) && n >= 0 && n <= 999 ? n : INVALID
}

/** The first item of a comma-separated header list ("https, http" → "https"), trimmed; undefined when empty. */
export function firstOfList (value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const comma = value.indexOf(',')
  const first = (comma === -1 ? value : value.slice(0, comma)).trim()
  return first === '' ? undefined : first
}

/** host[:port] as a URL can carry it: no scheme, path, query, userinfo, whitespace or control characters. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must not be in a host
const URL_HOST = /^(?:[^\s\x00-\x1f\x7f/?#@\\[\]:]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

/** Whether `value` can be the host of a tracked URL (checked for --host too). */
export function isUrlHost (value: string): boolean {
  return URL_HOST.test(value)
}

/**
 * The host a visitor used: the first X-Forwarded-Host entry, else the logged Host, skipping values that
 * cannot be a URL's host (X-Forwarded-Host is whatever the client sent unless a proxy set it: "evil/x?y=" would
 * otherwise become part of the tracked URL). Undefined when neither is usable (then --host, if set).
 */
export function hostOf (forwarded: string | undefined, logged: string | undefined): string | undefined {
  const first = firstOfList(forwarded)
  if (first !== undefined && URL_HOST.test(first)) return first
  return logged !== undefined && URL_HOST.test(logged) ? logged : undefined
}

/** The first present value of several keys of a record (nginx layouts name the same thing differently). */
export function strOf (a: unknown, b: unknown, c?: unknown): string | undefined {
  return str(a) ?? str(b) ?? str(c)
}

/** A value as JSON for a message, cut to 80 characters (a line may hold anything). */
export function show (value: unknown): string {
  // JSON says null for Infinity and NaN (a 1e400 in the line): the number itself is what the user wrote.
  const text = typeof value === 'number' && !Number.isFinite(value) ? String(value) : JSON.stringify(value) ?? String(value)
  return text.length > 80 ? text.slice(0, 77) + '...' : text
}

/** An error as "Type: message": pino's err serializer gives {type, message, stack}; a string is the message. */
export function errorText (err: unknown): string | undefined {
  if (isRecord(err)) {
    const type = str(err.type) ?? 'Error'
    const message = str(err.message)
    return message === undefined ? type : `${type}: ${message}`
  }
  return str(err)
}
