// Traefik's JSON access log (StartUTC, Duration ns, Request*, DownstreamStatus, request_<Header>) → AccessEntry.
import { NOT_AN_ACCESS_ENTRY, parseIsoTime, reject, splitUri, str, type AccessEntry, type JsonRecord, type LineIssue, type ParseResult } from './access-entry.js'
import { trackingDataOf, type LineFormat, type ParseContext } from './format.js'
import { INVALID, durationToMs, firstOfList, hostOf, isAbsent, show, statusOf } from './values.js'

const MISSING_PATH = reject('missing_field:RequestPath', 'neither a Traefik access line (`RequestPath`) nor a Traefik log line (`level`, `msg`)')
const MISSING_TIME = reject('missing_field:StartUTC', 'no request time: none of StartUTC, StartLocal, time is present')

/** What Traefik writes for a field or header in `redact` mode (accessLog.fields.defaultMode / headers.defaultMode). */
const REDACTED = 'REDACTED'
const PATH_REDACTED = reject('missing_field:RequestPath', '`RequestPath` is REDACTED: keep it (accessLog.fields.names.RequestPath: keep) to track these requests')

/** A string field, or undefined when absent or redacted: a redacted value was never what the visitor sent. */
function kept (value: unknown): string | undefined {
  const text = str(value)
  return text === REDACTED ? undefined : text
}

function parse (record: JsonRecord, context: ParseContext): ParseResult {
  // RequestPath is the request target: path and query.
  if (record.RequestPath === REDACTED) return PATH_REDACTED
  const uri = str(record.RequestPath)
  if (uri === undefined) return 'level' in record || 'msg' in record ? NOT_AN_ACCESS_ENTRY : MISSING_PATH
  const timeMs = traefikTime(record, context)
  if (typeof timeMs !== 'number') return timeMs
  const status = statusOf(record.DownstreamStatus)
  if (status === INVALID) return reject('invalid_field:DownstreamStatus', `\`DownstreamStatus\` is neither a number nor a numeric string: ${show(record.DownstreamStatus)}`)
  const { path, query } = splitUri(uri)
  const remoteAddress = kept(record.ClientHost)
  const forwarded = context.trustsForwardingFrom(remoteAddress)
  return {
    method: kept(record.RequestMethod),
    // Kept request headers (accessLog.fields.headers) of a proxy in front of Traefik: what the client used.
    scheme: (forwarded ? firstOfList(kept(record['request_X-Forwarded-Proto'])) : undefined) ?? kept(record.RequestScheme),
    host: hostOf(forwarded ? kept(record['request_X-Forwarded-Host']) : undefined, kept(record.RequestHost)),
    path,
    query,
    status,
    // Request headers appear only when kept by accessLog.fields.headers, as request_<Header-Name>.
    userAgent: kept(record['request_User-Agent']),
    referer: kept(record.request_Referer),
    acceptLanguage: kept(record['request_Accept-Language']),
    remoteAddress,
    forwardedFor: kept(record['request_X-Forwarded-For']),
    responseTimeMs: durationToMs(record.Duration, 'ns'),
    timeMs,
    error: undefined,
    userId: kept(record.ClientUsername),
    trackingData: trackingDataOf(record, context),
    requestId: kept(record['request_X-Request-Id'])
  } satisfies AccessEntry
}

/** StartUTC (request start, ns precision, UTC) first; `time` is when the line was written, in Traefik's zone. */
function traefikTime (record: JsonRecord, context: ParseContext): number | LineIssue {
  const value = present(record.StartUTC) ? record.StartUTC : present(record.StartLocal) ? record.StartLocal : record.time
  if (!present(value)) return MISSING_TIME
  const ms = typeof value === 'string' ? parseIsoTime(value, context.timeZone) : NaN
  if (Number.isNaN(ms)) return reject('invalid_time', `Traefik's start time is not an RFC 3339 time: ${show(value)}`)
  return ms
}

function present (value: unknown): boolean {
  return !isAbsent(value) && value !== REDACTED
}

export const traefik: LineFormat = {
  name: 'traefik',
  // Only Traefik writes RequestPath with these; a pino line (msg, level, time) never matches (import_logs.py's trap).
  sniff: (record) => 'RequestPath' in record && ('DownstreamStatus' in record || 'RequestHost' in record || 'ClientHost' in record),
  parse
}
