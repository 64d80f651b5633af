// pino-http lines (default serializers: req, res, responseTime ms, time epoch ms, err) → AccessEntry.
import { NOT_AN_ACCESS_ENTRY, header, isRecord, num, parseIsoTime, reject, splitUri, str, type AccessEntry, type JsonRecord, type LineIssue, type ParseResult } from './access-entry.js'
import { trackingDataOf, type LineFormat, type ParseContext } from './format.js'
import { INVALID, errorText, firstOfList, hostOf, isAbsent, show, statusOf } from './values.js'

const EMPTY: JsonRecord = Object.freeze({})
const MISSING_URL = reject('missing_field:req.url', '`req.url` is missing')
const MISSING_TIME = reject('missing_field:time', '`time` is missing')
const MISSING_REQ = reject('missing_field:req', 'neither a pino-http request line (`req` and `res` objects) nor a pino log line (`level`, `msg`)')

function parse (record: JsonRecord, context: ParseContext): ParseResult {
  const req = record.req
  const res = record.res
  if (!isRecord(req) || !isRecord(res)) {
    // Plain pino lines (no req/res) are the app's own logs, not requests: skipped, not errors.
    return 'level' in record || 'msg' in record ? NOT_AN_ACCESS_ENTRY : MISSING_REQ
  }
  const url = str(req.url)
  if (url === undefined) return MISSING_URL
  const timeMs = pinoTime(record.time, context)
  if (typeof timeMs !== 'number') return timeMs
  const status = statusOf(res.statusCode)
  if (status === INVALID) return reject('invalid_field:res.statusCode', `\`res.statusCode\` is neither a number nor a numeric string: ${show(res.statusCode)}`)
  const headers = isRecord(req.headers) ? req.headers : EMPTY
  const { path, query } = splitUri(url)
  const remoteAddress = str(req.remoteAddress)
  const forwarded = context.trustsForwardingFrom(remoteAddress)
  return {
    method: str(req.method),
    scheme: forwarded ? firstOfList(header(headers['x-forwarded-proto'])) : undefined,
    host: hostOf(forwarded ? header(headers['x-forwarded-host']) : undefined, header(headers.host)),
    path,
    query,
    status,
    userAgent: header(headers['user-agent']),
    referer: header(headers.referer) ?? header(headers.referrer),
    acceptLanguage: header(headers['accept-language']),
    remoteAddress,
    forwardedFor: header(headers['x-forwarded-for']),
    responseTimeMs: num(record.responseTime),
    timeMs,
    error: errorText(record.err),
    userId: undefined,
    trackingData: trackingDataOf(record, context),
    requestId: str(req.id)
  } satisfies AccessEntry
}

/** pino's default `time` is epoch ms (number or numeric string); pino.stdTimeFunctions.isoTime writes RFC 3339. */
function pinoTime (value: unknown, context: ParseContext): number | LineIssue {
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value
  } else if (typeof value === 'string') {
    const n = value.charCodeAt(4) === 45 /* - */ ? parseIsoTime(value, context.timeZone) : value === '' ? NaN : Number(value)
    if (Number.isFinite(n)) return n
  }
  if (isAbsent(value)) return MISSING_TIME
  return reject('invalid_time', `\`time\` is neither epoch milliseconds nor an RFC 3339 time: ${show(value)}`)
}

export const pinoHttp: LineFormat = {
  name: 'pino-http',
  sniff: (record) => isRecord(record.req) && isRecord(record.res),
  parse
}
