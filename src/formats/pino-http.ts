// pino-http lines (default serializers: req, res, responseTime, time in epoch ms, err) → AccessEntry.
import { NOT_AN_ACCESS_ENTRY, header, isRecord, num, pick, reject, splitUri, str, type AccessEntry, type JsonRecord, type ParseResult } from './access-entry.js'
import type { LineFormat, ParseContext } from './format.js'

function parse (record: JsonRecord, context: ParseContext): ParseResult {
  const req = record.req
  const res = record.res
  // Plain pino lines (no req/res) are the app's own logs, not requests: skipped, not errors.
  if (!isRecord(req) || !isRecord(res)) return NOT_AN_ACCESS_ENTRY
  const url = str(req.url)
  if (url === undefined) return reject('missing_field:req.url', '`req.url` is missing')
  const timeMs = num(record.time)
  if (timeMs === undefined) return reject('invalid_time', `\`time\` is not epoch milliseconds: ${JSON.stringify(record.time)}`)
  const headers = isRecord(req.headers) ? req.headers : {}
  const { path, query } = splitUri(url)
  const forwardedHost = header(headers['x-forwarded-host'])
  const data = pick(record, context.trackingDataKey)
  return {
    method: str(req.method),
    scheme: header(headers['x-forwarded-proto']),
    host: forwardedHost === undefined ? header(headers.host) : firstOfList(forwardedHost),
    path,
    query,
    status: num(res.statusCode),
    userAgent: header(headers['user-agent']),
    referer: header(headers.referer) ?? header(headers.referrer),
    acceptLanguage: header(headers['accept-language']),
    remoteAddress: str(req.remoteAddress),
    forwardedFor: header(headers['x-forwarded-for']),
    responseTimeMs: num(record.responseTime),
    timeMs,
    error: errorText(record.err),
    userId: undefined,
    trackingData: isRecord(data) ? data : undefined
  } satisfies AccessEntry
}

function firstOfList (value: string): string {
  const comma = value.indexOf(',')
  return comma === -1 ? value.trim() : value.slice(0, comma).trim()
}

/** pino's err serializer gives {type, message, stack}; a string is taken as the message. */
function errorText (err: unknown): string | undefined {
  if (isRecord(err)) {
    const type = str(err.type) ?? 'Error'
    const message = str(err.message)
    return message === undefined ? type : `${type}: ${message}`
  }
  return str(err)
}

export const pinoHttp: LineFormat = {
  name: 'pino-http',
  sniff: (record) => isRecord(record.req) && isRecord(record.res),
  parse
}
