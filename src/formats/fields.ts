// The `fields` format: any JSON layout, described in the config file as entry field → dotted path (+ unit).
import type { FieldMap, FieldSpec } from '../config/types.js'
import { header, isRecord, listHeader, reject, splitUri, str, type AccessEntry, type JsonRecord, type LineIssue, type ParseResult } from './access-entry.js'
import { trackingDataOf, type LineFormat, type ParseContext } from './format.js'
import { DURATION_UNITS, INVALID, TIME_UNITS, durationToMs, errorText, hostOf, isAbsent, show, statusOf, timeToMs, type DurationUnit, type TimeUnit } from './values.js'

/** Entry fields a fields map may name, with what each holds. `time` and `path` are required. */
export const ENTRY_FIELDS: Readonly<Record<string, string>> = Object.freeze({
  time: 'request time; unit iso8601 (default), epoch-s, epoch-ms, epoch-us, epoch-ns or clf',
  path: 'request target: path, optionally with ?query',
  query: 'query string without "?" (wins over a query in path)',
  method: 'HTTP method',
  scheme: 'http or https',
  host: 'host name the request was for',
  status: 'HTTP status, number or numeric string',
  userAgent: 'User-Agent',
  referer: 'Referer',
  acceptLanguage: 'Accept-Language',
  remoteAddress: 'socket peer address',
  forwardedFor: 'X-Forwarded-For list',
  responseTime: 'time taken; unit s, ms, us or ns (required)',
  userId: 'user id (sent as uid)',
  error: 'error text (sent as cra, with ca=1, only with --crash-reports)',
  requestId: 'request id'
})

const REQUIRED = ['time', 'path'] as const

/**
 * Checks a `fields` config value; returns one message per problem (empty when valid). Called at start with
 * every other config check, so a bad map stops the run before any input is read.
 */
export function validateFieldMap (value: unknown): string[] {
  const problems: string[] = []
  const where = 'Config key fields'
  if (!isRecord(value)) {
    return [`${where} must map entry fields to dotted paths, e.g. { path: "request.uri", time: { path: "ts", unit: "epoch-s" }, status: "res.code" }; got ${show(value)}.`]
  }
  for (const [field, spec] of Object.entries(value)) {
    if (!(field in ENTRY_FIELDS)) {
      problems.push(`${where} names unknown entry field "${field}"; known: ${Object.keys(ENTRY_FIELDS).join(', ')}.`)
      continue
    }
    const path = typeof spec === 'string' ? spec : isRecord(spec) ? spec.path : undefined
    if (typeof path !== 'string' || !isValidPath(path)) {
      problems.push(`${where}.${field} must be a dotted path ("req.url") or { path, unit }, got ${show(spec)}.`)
      continue
    }
    if (isRecord(spec)) {
      for (const key of Object.keys(spec)) {
        if (key !== 'path' && key !== 'unit') problems.push(`${where}.${field} has unknown key "${key}"; use path and unit.`)
      }
    }
    const unit = isRecord(spec) ? spec.unit : undefined
    if (field === 'time') {
      if (unit !== undefined && !TIME_UNITS.includes(unit as TimeUnit)) problems.push(`${where}.time.unit must be one of ${TIME_UNITS.join(', ')}, got ${show(unit)}.`)
    } else if (field === 'responseTime') {
      if (unit === undefined) problems.push(`${where}.responseTime needs a unit (${DURATION_UNITS.join(', ')}): { path: "${path}", unit: "ms" }.`)
      else if (!DURATION_UNITS.includes(unit as DurationUnit)) problems.push(`${where}.responseTime.unit must be one of ${DURATION_UNITS.join(', ')}, got ${show(unit)}.`)
    } else if (unit !== undefined) {
      problems.push(`${where}.${field} takes no unit (only time and responseTime do).`)
    }
  }
  for (const field of REQUIRED) {
    if (!(field in value)) problems.push(`${where} must name the ${field} field (${ENTRY_FIELDS[field] ?? ''}).`)
  }
  return problems
}

function isValidPath (path: string): boolean {
  return path !== '' && !path.startsWith('.') && !path.endsWith('.') && !path.includes('..')
}

/** Reads one field of a record; compiled once per run. */
interface Getter {
  readonly path: string
  readonly parts: readonly string[]
}

function compileGetter (spec: FieldSpec | undefined): Getter | undefined {
  if (spec === undefined) return undefined
  const path = typeof spec === 'string' ? spec : spec.path
  return { path, parts: Object.freeze(path.split('.')) }
}

/** Nested lookup first; a flat key that itself holds dots ("http.status_code") is the fallback. */
function read (record: JsonRecord, getter: Getter | undefined): unknown {
  if (getter === undefined) return undefined
  const parts = getter.parts
  let current: unknown = record
  for (let i = 0; i < parts.length; i++) {
    if (!isRecord(current)) {
      current = undefined
      break
    }
    current = current[parts[i] as string]
  }
  return current === undefined && parts.length > 1 ? record[getter.path] : current
}

/** Builds the `fields` format for a map already checked by validateFieldMap. */
export function createFieldsFormat (map: FieldMap): LineFormat {
  const g = (name: string): Getter | undefined => compileGetter(map[name])
  const timeSpec = map.time
  const timeUnit: TimeUnit = (typeof timeSpec === 'object' ? timeSpec.unit as TimeUnit | undefined : undefined) ?? 'iso8601'
  const durationSpec = map.responseTime
  const durationUnit: DurationUnit = (typeof durationSpec === 'object' ? durationSpec.unit as DurationUnit | undefined : undefined) ?? 'ms'
  const time = g('time') as Getter
  const path = g('path') as Getter
  const query = g('query')
  const method = g('method')
  const scheme = g('scheme')
  const host = g('host')
  const status = g('status')
  const userAgent = g('userAgent')
  const referer = g('referer')
  const acceptLanguage = g('acceptLanguage')
  const remoteAddress = g('remoteAddress')
  const forwardedFor = g('forwardedFor')
  const responseTime = g('responseTime')
  const userId = g('userId')
  const error = g('error')
  const requestId = g('requestId')
  const missingPath = reject(`missing_field:${path.path}`, `\`${path.path}\` (the path field) is missing`)
  const missingTime = reject(`missing_field:${time.path}`, `\`${time.path}\` (the time field) is missing`)
  const invalidStatus = status === undefined ? '' : `invalid_field:${status.path}`

  function timeOf (record: JsonRecord, context: ParseContext): number | LineIssue {
    const value = read(record, time)
    if (isAbsent(value)) return missingTime
    const ms = timeToMs(value, timeUnit, context.timeZone)
    return Number.isNaN(ms) ? reject('invalid_time', `\`${time.path}\` is not a time in unit ${timeUnit}: ${show(value)}`) : ms
  }

  function parse (record: JsonRecord, context: ParseContext): ParseResult {
    const uri = header(read(record, path))
    if (uri === undefined) return missingPath
    const timeMs = timeOf(record, context)
    if (typeof timeMs !== 'number') return timeMs
    const statusValue = read(record, status)
    const code = statusOf(statusValue)
    if (code === INVALID) return reject(invalidStatus, `\`${status?.path ?? ''}\` is neither a number nor a numeric string: ${show(statusValue)}`)
    const split = splitUri(uri)
    return {
      method: header(read(record, method)),
      scheme: header(read(record, scheme)),
      host: hostOf(undefined, header(read(record, host))),
      path: split.path,
      query: header(read(record, query)) ?? split.query,
      status: code,
      userAgent: header(read(record, userAgent)),
      referer: header(read(record, referer)),
      acceptLanguage: header(read(record, acceptLanguage)),
      remoteAddress: header(read(record, remoteAddress)),
      forwardedFor: listHeader(read(record, forwardedFor)),
      responseTimeMs: durationToMs(read(record, responseTime), durationUnit),
      timeMs,
      error: errorText(read(record, error)),
      userId: header(read(record, userId)),
      trackingData: trackingDataOf(record, context),
      requestId: str(read(record, requestId))
    } satisfies AccessEntry
  }

  return Object.freeze({
    name: 'fields',
    // Not sniffed: a fields map is chosen by configuring it.
    sniff: () => false,
    parse
  })
}
