// Caddy's JSON access log (ts epoch seconds, request{...}, status, duration seconds, user_id) → AccessEntry.
import { NOT_AN_ACCESS_ENTRY, header, isRecord, listHeader, parseIsoTime, reject, splitUri, str, type AccessEntry, type JsonRecord, type LineIssue, type ParseResult } from './access-entry.js'
import { trackingDataOf, type LineFormat, type ParseContext } from './format.js'
import { INVALID, durationToMs, epochToMs, firstOfList, hostOf, isAbsent, parseGoDuration, show, statusOf } from './values.js'

const EMPTY: JsonRecord = Object.freeze({})
const MISSING_URI = reject('missing_field:request.uri', '`request.uri` is missing')
const MISSING_TS = reject('missing_field:ts', '`ts` is missing')
const MISSING_REQUEST = reject('missing_field:request', 'neither a Caddy access line (`request` object) nor a Caddy log line (`level`, `msg`)')

function parse (record: JsonRecord, context: ParseContext): ParseResult {
  const request = record.request
  if (!isRecord(request)) {
    // Caddy's own log lines (startup, TLS) share the stream when the access log is not a separate file.
    return 'level' in record || 'msg' in record ? NOT_AN_ACCESS_ENTRY : MISSING_REQUEST
  }
  const uri = str(request.uri)
  if (uri === undefined) return MISSING_URI
  const timeMs = caddyTime(record.ts, context)
  if (typeof timeMs !== 'number') return timeMs
  const status = statusOf(record.status)
  if (status === INVALID) return reject('invalid_field:status', `\`status\` is neither a number nor a numeric string: ${show(record.status)}`)
  // Header names are logged canonicalised by Go (User-Agent), each with an array of values.
  const headers = isRecord(request.headers) ? request.headers : EMPTY
  const { path, query } = splitUri(uri)
  const remoteIp = str(request.remote_ip)
  const clientIp = str(request.client_ip)
  // A client_ip other than remote_ip was resolved by Caddy's own trusted_proxies: it is the client, and the
  // forwarding headers it came from must not be read a second time.
  const resolvedByCaddy = clientIp !== undefined && clientIp !== remoteIp
  // Forwarding headers are believed when Caddy's trusted_proxies did, or by the rule of --trusted-proxy.
  const forwarded = resolvedByCaddy || context.trustsForwardingFrom(remoteIp ?? clientIp)
  return {
    method: str(request.method),
    scheme: (forwarded ? firstOfList(header(headers['X-Forwarded-Proto'])) : undefined) ?? (isRecord(request.tls) ? 'https' : 'http'),
    host: hostOf(forwarded ? header(headers['X-Forwarded-Host']) : undefined, str(request.host)),
    path,
    query,
    status,
    userAgent: header(headers['User-Agent']),
    referer: header(headers.Referer),
    acceptLanguage: header(headers['Accept-Language']),
    remoteAddress: resolvedByCaddy ? clientIp : remoteIp ?? clientIp,
    forwardedFor: resolvedByCaddy ? undefined : listHeader(headers['X-Forwarded-For']),
    responseTimeMs: caddyDuration(record.duration),
    timeMs,
    error: undefined,
    userId: str(record.user_id),
    trackingData: trackingDataOf(record, context),
    requestId: undefined
  } satisfies AccessEntry
}

/** `ts` is epoch seconds (a float) by default; Caddy's time_format iso8601/rfc3339 writes text. */
function caddyTime (value: unknown, context: ParseContext): number | LineIssue {
  let ms = NaN
  if (typeof value === 'number') ms = epochToMs(value, 'epoch-s')
  else if (typeof value === 'string') ms = value.charCodeAt(4) === 45 /* - */ ? parseIsoTime(value, context.timeZone) : epochToMs(value, 'epoch-s')
  if (!Number.isNaN(ms)) return ms
  if (isAbsent(value)) return MISSING_TS
  return reject('invalid_time', `\`ts\` is neither epoch seconds nor an RFC 3339 time: ${show(value)}`)
}

/** `duration` is seconds (a float) by default; duration_format string writes Go durations ("1.5ms"). */
function caddyDuration (value: unknown): number | undefined {
  if (typeof value === 'string' && endsWithLetter(value)) return parseGoDuration(value)
  return durationToMs(value, 's')
}

function endsWithLetter (text: string): boolean {
  const last = text.charCodeAt(text.length - 1) | 0x20
  return last >= 97 && last <= 122
}

export const caddy: LineFormat = {
  name: 'caddy',
  sniff: (record) => isRecord(record.request) && 'ts' in record && 'status' in record,
  parse
}
