// nginx JSON access logs in the layout documented for import_logs.py → AccessEntry.
import { num, parseIsoTime, pick, reject, splitUri, str, isRecord, type AccessEntry, type JsonRecord, type ParseResult } from './access-entry.js'
import type { LineFormat, ParseContext } from './format.js'

function parse (record: JsonRecord, context: ParseContext): ParseResult {
  const uri = str(record.path)
  if (uri === undefined) return reject('missing_field:path', '`path` is missing')
  const date = record.date
  if (date === undefined || date === null || date === '' || date === '-') return reject('missing_field:date', '`date` is missing')
  const timeMs = typeof date === 'string' ? parseIsoTime(date, context.timeZone) : NaN
  if (Number.isNaN(timeMs)) return reject('invalid_time', `\`date\` is not an ISO 8601 time: ${JSON.stringify(date)}`)
  const split = splitUri(uri)
  const explicitQuery = str(record.query_string)
  // generation_time_milli holds nginx's $request_time, which is in seconds despite the name.
  const seconds = num(record.generation_time_milli)
  const data = pick(record, context.trackingDataKey)
  return {
    method: str(record.method),
    scheme: undefined,
    host: str(record.host),
    path: split.path,
    query: explicitQuery ?? split.query,
    status: num(record.status),
    userAgent: str(record.user_agent),
    referer: str(record.referrer),
    acceptLanguage: undefined,
    remoteAddress: str(record.ip),
    forwardedFor: undefined,
    responseTimeMs: seconds === undefined ? undefined : seconds * 1000,
    timeMs,
    error: undefined,
    userId: str(record.userid),
    trackingData: isRecord(data) ? data : undefined
  } satisfies AccessEntry
}

export const nginxJson: LineFormat = {
  name: 'nginx-json',
  // import_logs.py's layout: path, status and date are the keys it cannot do without.
  sniff: (record) => 'path' in record && 'status' in record && ('date' in record || 'referrer' in record),
  parse
}
