// nginx JSON access logs → AccessEntry: import_logs.py's documented layout, and nginx's own variable names as keys.
import { parseIsoTime, reject, splitUri, str, type AccessEntry, type JsonRecord, type LineIssue, type ParseResult } from './access-entry.js'
import { trackingDataOf, type LineFormat, type ParseContext } from './format.js'
import { INVALID, durationToMs, epochToMs, firstOfList, hostOf, isAbsent, parseClfTime, show, statusOf, strOf } from './values.js'

/*
 * Two layouts, read by the same code (a key of either is accepted on any line):
 *  - import_logs.py: ip, host, path, status, referrer, user_agent, length, generation_time_milli (seconds, despite
 *    the name), date (ISO 8601), optional userid, method, query_string.
 *  - nginx variables as keys: remote_addr, http_x_forwarded_for, host / http_host / server_name, request_method,
 *    request_uri (or uri + args, or the request line `request`), status, http_referer, http_user_agent,
 *    http_accept_language, request_time (seconds), time_iso8601 / msec / time_local, body_bytes_sent, scheme, remote_user.
 */

const TIME_KEYS = 'date, time_iso8601, @timestamp, msec or time_local'
const PATH_KEYS = 'path, request_uri, uri or request'

function parse (record: JsonRecord, context: ParseContext): ParseResult {
  const importLogsLayout = 'path' in record || 'date' in record
  let method = strOf(record.method, record.request_method)
  let uri = strOf(record.path, record.request_uri, record.uri)
  if (uri === undefined) {
    // $request is the request line: "GET /a?b=1 HTTP/1.1".
    const line = str(record.request)
    if (line !== undefined) {
      const first = line.indexOf(' ')
      const second = first === -1 ? -1 : line.indexOf(' ', first + 1)
      if (first > 0) {
        uri = str(line.slice(first + 1, second === -1 ? line.length : second))
        method ??= line.slice(0, first)
      }
    }
  }
  if (uri === undefined) {
    return reject(importLogsLayout ? 'missing_field:path' : 'missing_field:request_uri', `no request path: none of ${PATH_KEYS} is present`)
  }
  const timeMs = nginxTime(record, context, importLogsLayout)
  if (typeof timeMs !== 'number') return timeMs
  const status = statusOf(record.status)
  if (status === INVALID) return reject('invalid_field:status', `\`status\` is neither a number nor a numeric string: ${show(record.status)}`)
  const split = splitUri(uri)
  const https = record.https
  const remoteAddress = strOf(record.ip, record.remote_addr)
  const forwarded = context.trustsForwardingFrom(remoteAddress)
  return {
    method,
    // Behind a proxy, $http_x_forwarded_proto / $http_x_forwarded_host (when logged) are what the client used.
    scheme: (forwarded ? firstOfList(str(record.http_x_forwarded_proto)) : undefined) ?? str(record.scheme) ?? (https === 'on' ? 'https' : https === '' ? 'http' : undefined),
    host: hostOf(forwarded ? str(record.http_x_forwarded_host) : undefined, strOf(record.host, record.http_host, record.server_name)),
    path: split.path,
    query: strOf(record.query_string, record.args) ?? split.query,
    status,
    userAgent: strOf(record.user_agent, record.http_user_agent),
    referer: strOf(record.referrer, record.http_referer, record.http_referrer),
    acceptLanguage: str(record.http_accept_language),
    remoteAddress,
    forwardedFor: str(record.http_x_forwarded_for),
    // Both hold nginx's $request_time: seconds with millisecond resolution.
    responseTimeMs: durationToMs(record.generation_time_milli ?? record.request_time, 's'),
    timeMs,
    error: undefined,
    userId: strOf(record.userid, record.remote_user),
    trackingData: trackingDataOf(record, context),
    requestId: str(record.request_id)
  } satisfies AccessEntry
}

function nginxTime (record: JsonRecord, context: ParseContext, importLogsLayout: boolean): number | LineIssue {
  let key: string
  let value: unknown
  let ms: number
  if (!isAbsent(record.date)) {
    key = 'date'
    value = record.date
    ms = typeof value === 'string' ? parseIsoTime(value, context.timeZone) : NaN
  } else if (!isAbsent(record.time_iso8601)) {
    key = 'time_iso8601'
    value = record.time_iso8601
    ms = typeof value === 'string' ? parseIsoTime(value, context.timeZone) : NaN
  } else if (!isAbsent(record['@timestamp'])) {
    key = '@timestamp'
    value = record['@timestamp']
    ms = typeof value === 'string' ? parseIsoTime(value, context.timeZone) : NaN
  } else if (!isAbsent(record.msec)) {
    // $msec: epoch seconds with a millisecond fraction.
    key = 'msec'
    value = record.msec
    ms = epochToMs(value, 'epoch-s')
  } else if (!isAbsent(record.time_local)) {
    key = 'time_local'
    value = record.time_local
    ms = typeof value === 'string' ? parseClfTime(value) : NaN
  } else {
    return reject(importLogsLayout ? 'missing_field:date' : 'missing_field:time_iso8601', `no request time: none of ${TIME_KEYS} is present`)
  }
  if (Number.isNaN(ms)) return reject('invalid_time', `\`${key}\` is not a time in the form nginx writes it: ${show(value)}`)
  return ms
}

const NGINX_KEYS = ['date', 'time_iso8601', 'time_local', 'msec', 'referrer', 'http_referer', 'remote_addr', 'ip', 'user_agent', 'http_user_agent', 'request_method', 'body_bytes_sent', 'request_time', 'generation_time_milli']

function sniff (record: JsonRecord): boolean {
  if (!('status' in record)) return false
  if (!('path' in record || 'request_uri' in record || 'uri' in record || typeof record.request === 'string')) return false
  for (const key of NGINX_KEYS) if (key in record) return true
  return false
}

export const nginxJson: LineFormat = {
  name: 'nginx-json',
  // A top-level status and path, plus any other key of either layout (referrer is not required: import_logs.py's
  // detection fails on lines without it).
  sniff,
  parse
}

