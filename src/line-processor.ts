// The per-line hot path: raw line → JSON → AccessEntry → Matomo params → sink; every line ends as hit, filtered or rejected.
import type { SourceProgress, Ticket } from './ack/source-progress.js'
import type { Config } from './config/types.js'
import { errors, isForwardError } from './errors.js'
import { inFlightLimit } from './sink/adaptive-concurrency.js'
import { isLineIssue, isRecord, reject, type JsonRecord, type LineIssue } from './formats/access-entry.js'
import { createContainerLine, parseCriLine, PartialLines, unwrapDocker, type JoinedLine } from './formats/container.js'
import { ambiguity, formatsFitting, noFit, DETECTION_MAX_LINES } from './formats/detect.js'
import { createParseContext, type LineFormat, type ParseContext } from './formats/format.js'
import { FORMATS, chooseFormat } from './formats/index.js'
import { parseJsonLine } from './formats/parse-line.js'
import { createRateLimiter, type Logger } from './log.js'
import { createForwardingTrust } from './mapping/client-ip.js'
import { CDT_REQUIRES_TOKEN, createMapper, type Mapper } from './mapping/tracking-params.js'
import type { RejectWriter } from './output/reject-file.js'
import type { LineHandler } from './sources/split-lines.js'
import type { HitSink } from './sink/sink.js'
import type { Summary } from './summary.js'

export interface LineProcessorDeps {
  config: Config
  summary: Summary
  sink: HitSink
  logger: Logger
  rejects: RejectWriter | undefined
}

/** A LineHandler bound to one source; `finish` is called at the end of the source. */
export interface SourceLineHandler extends LineHandler {
  finish: () => void
  /**
   * The run stops before the end of the source: lines still held (format detection, an unfinished container
   * line) are counted as held at exit, not processed; their tickets keep the checkpoint before them.
   */
  abandon: () => void
}

export interface LineProcessor {
  forSource: (progress: SourceProgress) => SourceLineHandler
}

export function createLineProcessor (deps: LineProcessorDeps): LineProcessor {
  const { config, summary, sink, logger, rejects } = deps
  const context: ParseContext = createParseContext({
    timezone: config.timezone,
    trackingDataKey: config.trackingDataKey,
    fields: config.fields,
    trustsForwardingFrom: createForwardingTrust(config.trustedProxy)
  })
  const map: Mapper = createMapper({
    idsite: config.idsite ?? 0,
    accessToken: config.accessToken,
    assumeHttps: config.assumeHttps,
    crashReports: config.crashReports,
    host: config.host,
    trustedProxy: config.trustedProxy,
    excludePath: config.excludePath,
    excludePattern: config.excludePattern,
    allowedMethod: config.allowedMethod,
    ignoredMethod: config.ignoredMethod,
    routeDetails: config.routeDetails,
    statusDimension: config.statusDimension,
    methodDimension: config.methodDimension,
    oldHitsNeedToken: !config.dryRun
  })
  const explicitFormat = chooseFormat(config.format, config.fields)
  /** Half the duplicate bound: see giveUpStalePartials. */
  const partialPatience = Math.max(1, Math.floor(inFlightLimit(config) / 2))
  const limiter = createRateLimiter()
  let reportedMappingBug = false

  /**
   * A line is done: filtered or rejected. `ticket` is set for a line joined from container pieces: it has held
   * the checkpoint at the first piece since that piece was read, and is released now.
   */
  function lineDone (progress: SourceProgress, end: number, lineNo: number, ticket: Ticket | undefined): void {
    progress.lineDone(end, lineNo)
    if (ticket !== undefined) progress.ack(ticket)
  }

  function rejectLine (progress: SourceProgress, issue: LineIssue, raw: string, lineNo: number, start: number, end: number, ticket: Ticket | undefined): void {
    summary.reject(issue.reason)
    rejects?.write({ reason: issue.reason, message: issue.message, source: progress.name, line: lineNo, offset: start, raw })
    const gate = limiter(issue.reason)
    if (gate.log) {
      logger.warn({ reason: issue.reason, source: progress.name, line: lineNo, offset: start, suppressed: gate.suppressed },
        `line ${lineNo} of ${progress.name} (offset ${start}) rejected: ${issue.reason}: ${issue.message}`)
    }
    lineDone(progress, end, lineNo, ticket)
  }

  function handleRecord (format: LineFormat, progress: SourceProgress, record: JsonRecord, raw: string, lineNo: number, start: number, end: number, ticket: Ticket | undefined): void {
    let entry: ReturnType<LineFormat['parse']>
    let result: ReturnType<Mapper>
    try {
      entry = format.parse(record, context)
      result = isLineIssue(entry) ? entry : map(entry)
    } catch (err) {
      // A line must never stop its file: what the format or the mapping cannot handle (tracking data nested
      // thousands of levels deep overflows JSON.stringify) is rejected like any bad line.
      if (isForwardError(err)) throw err
      if (!(err instanceof RangeError) && !reportedMappingBug) {
        // Anything but a stack overflow is a bug of ours: said once with its stack, lines still go on.
        reportedMappingBug = true
        logger.error({ err, source: progress.name, line: lineNo }, `unexpected error while mapping line ${lineNo} of ${progress.name} (a bug: please report it with this message); such lines are rejected as unmappable`)
      }
      rejectLine(progress, unmappable(err), raw, lineNo, start, end, ticket)
      return
    }
    if (isLineIssue(entry)) {
      if (entry.kind === 'skip') {
        summary.filter(entry.reason)
        lineDone(progress, end, lineNo, ticket)
      } else {
        rejectLine(progress, entry, raw, lineNo, start, end, ticket)
      }
      return
    }
    if (typeof result === 'string') {
      summary.filter(result)
      logger.debug({ reason: result, source: progress.name, line: lineNo }, 'filtered')
      lineDone(progress, end, lineNo, ticket)
      return
    }
    if (isLineIssue(result)) {
      if (result === CDT_REQUIRES_TOKEN && summary.hits === 0 && config.command === 'read') {
        // The input starts with hits too old to send without a token: say so once, before sending anything.
        // This line is not done (read again by the next run): it counts as held, so the summary adds up.
        summary.linesHeldAtExit++
        throw errors.MF_ERR_CONFIG_TOKEN_REQUIRED(lineNo, progress.name, new Date(entry.timeMs).toISOString())
      }
      rejectLine(progress, result, raw, lineNo, start, end, ticket)
      return
    }
    summary.hits++
    if (ticket === undefined) {
      ticket = progress.hold(start, end, lineNo)
    } else {
      // The joined line's own ticket (held since its first piece) is the hit's: record the end it reached.
      progress.lineDone(end, lineNo)
    }
    sink.push({ params: result, progress, ticket, lineNo, raw })
  }

  return {
    forSource (progress: SourceProgress): SourceLineHandler {
      let format = explicitFormat
      /** Lines held while --format auto looks for a line it recognises. */
      let held: HeldLine[] | undefined = format === undefined ? [] : undefined
      let heldRecords = 0
      /** Pieces of long container lines waiting for their last piece, per stream. */
      const partials = new PartialLines<Ticket>(config.maxLineBytes)
      const unwrapped = createContainerLine()
      /** Hits of this source processed while a container piece was open (they cannot become durable past it). */
      let hitsBehindPartials = 0
      /** End offset of the last line read: progress ends only ever move forward. */
      let lastEnd = 0

      const release = (chosen: LineFormat): void => {
        format = chosen
        const lines = held ?? []
        held = undefined
        for (let i = 0; i < lines.length; i++) {
          const h = lines[i] as HeldLine
          try {
            process(h.raw, h.record, h.lineNo, h.start, h.end, h.ticket)
          } catch (err) {
            // The run stops at this line (MF_ERR_CONFIG_TOKEN_REQUIRED counts it): the lines after it are still
            // held, so abandon() counts them and the summary adds up.
            held = lines.slice(i + 1)
            throw err
          }
        }
      }

      /** Sniffs one more held record; at the end of the input (or of the look-ahead) gives up with the reason. */
      const detect = (record: JsonRecord | undefined, atEnd: boolean): void => {
        if (held === undefined) return
        if (record !== undefined) {
          heldRecords++
          const fits = formatsFitting(record)
          if (fits.length > 1) throw errors.MF_ERR_FORMAT_UNDETECTED(progress.name, ambiguity(record, fits).explanation)
          if (fits.length === 1) {
            const chosen = fits[0] as LineFormat
            logger.info({ source: progress.name, format: chosen.name }, `detected format ${chosen.name} in ${progress.name}`)
            release(chosen)
            return
          }
        }
        if (!atEnd && heldRecords < DETECTION_MAX_LINES) return
        if (heldRecords === 0) {
          // Nothing but bad lines: there is no format to detect, and each line is rejected for its own problem.
          release(FORMATS.get('pino-http') as LineFormat)
          return
        }
        const records = held.map((h) => h.record).filter((r): r is JsonRecord => !isLineIssue(r))
        throw errors.MF_ERR_FORMAT_UNDETECTED(progress.name, noFit(records).explanation)
      }

      const process = (raw: string, record: JsonRecord | LineIssue, lineNo: number, start: number, end: number, ticket: Ticket | undefined): void => {
        if (isLineIssue(record)) rejectLine(progress, record, raw, lineNo, start, end, ticket)
        else handleRecord(format as LineFormat, progress, record, raw, lineNo, start, end, ticket)
      }

      const dispatch = (raw: string, record: JsonRecord | LineIssue, lineNo: number, start: number, end: number, ticket: Ticket | undefined): void => {
        if (held === undefined) {
          if (partials.size === 0) {
            process(raw, record, lineNo, start, end, ticket)
            return
          }
          const before = summary.hits
          process(raw, record, lineNo, start, end, ticket)
          hitsBehindPartials += summary.hits - before
          return
        }
        if (!isLineIssue(record) && isPlainLogLine(record) && formatsFitting(record).length === 0) {
          // The app's or the server's own log line (level or msg, no request): not an access entry whatever the
          // format, and no clue to it. Filtered now rather than held, so an input of nothing else (a quiet,
          // rotated app log) needs no format, and many of them before the first request do not end detection.
          summary.filter('not_an_access_entry')
          lineDone(progress, end, lineNo, ticket)
          return
        }
        // A held line holds the checkpoint too: a blank line after it must not commit past it (the line is not
        // done until the format is known; if detection fails, it is read again by the next run).
        held.push({ raw, record, lineNo, start, end, ticket: ticket ?? progress.hold(start, end, lineNo) })
        detect(isLineIssue(record) ? undefined : record, false)
      }

      /**
       * A line unwrapped from Docker or CRI. Pieces of one long line are held until their stream's last piece
       * arrives. Counting: the first piece's line counts as the joined line (hit, filtered or rejected, whenever
       * that is known, even at the end of the input); every later piece counts as filtered partial_line_joined.
       */
      const containerLine = (raw: string, lineNo: number, start: number, end: number): void => {
        if (partials.size > 0) giveUpStalePartials()
        const { stream, content } = unwrapped
        const open = partials.has(stream)
        if (unwrapped.partial) {
          if (open) {
            summary.filter('partial_line_joined')
            partials.add(stream, content, end)
          } else {
            partials.begin(stream, content, lineNo, start, end, progress.hold(start, end, lineNo), hitsBehindPartials)
          }
          return
        }
        if (!open) {
          if (isBlank(content)) {
            summary.filter('empty_line')
            progress.lineDone(end, lineNo)
          } else {
            dispatch(raw, parseJsonLine(content), lineNo, start, end, undefined)
          }
          return
        }
        summary.filter('partial_line_joined')
        const joined = partials.finish(stream, content, end) as JoinedLine<Ticket>
        dispatch(joined.text, joined.tooLong ? tooLongIssue(joined.bytes) : parseJsonLine(joined.text), joined.lineNo, joined.start, end, joined.token)
      }

      /**
       * A piece whose last piece has not come while partialPatience hits of other streams followed it is
       * processed as it is (as at the end of the input). It holds the checkpoint, so the hits after it cannot
       * become durable: waiting longer would fill the duplicate bound and stop the reader for good (deadlock).
       */
      const giveUpStalePartials = (): void => {
        for (const joined of partials.drainBegunBefore(hitsBehindPartials - partialPatience)) {
          logger.warn({ source: progress.name, line: joined.lineNo, stream: joined.stream },
            `line ${joined.lineNo} of ${progress.name} (${joined.stream}) is a partial container line whose last piece did not come while ${partialPatience} hits followed it; processed as it is`)
          dispatch(joined.text, joined.tooLong ? tooLongIssue(joined.bytes) : parseJsonLine(joined.text), joined.lineNo, joined.start, lastEnd, joined.token)
        }
      }

      return {
        line (text, lineNo, start, end) {
          summary.linesRead++
          summary.bytesRead += end - start
          lastEnd = end
          if (text.length === 0 || isBlank(text)) {
            summary.filter('empty_line')
            progress.lineDone(end, lineNo)
            return
          }
          // A JSON line starts with "{"; one starting with a digit can only be a CRI line (or garbage).
          if (parseCriLine(text, unwrapped)) {
            containerLine(text, lineNo, start, end)
            return
          }
          const record = parseJsonLine(text)
          if (!isLineIssue(record) && unwrapDocker(record, unwrapped)) {
            containerLine(text, lineNo, start, end)
            return
          }
          dispatch(text, record, lineNo, start, end, undefined)
        },
        tooLong (head, lineNo, start, end) {
          summary.linesRead++
          summary.bytesRead += end - start
          lastEnd = end
          // A too-long piece of a CRI line still begins, continues or ends its stream's entry (counted as above).
          if (parseCriLine(head, unwrapped) && (unwrapped.partial || partials.has(unwrapped.stream))) {
            const stream = unwrapped.stream
            if (partials.has(stream)) summary.filter('partial_line_joined')
            if (unwrapped.partial) {
              if (!partials.has(stream)) partials.begin(stream, '', lineNo, start, end, progress.hold(start, end, lineNo), hitsBehindPartials)
              partials.overflow(stream, unwrapped.content, end)
              return
            }
            const joined = partials.finish(stream, '', end) as JoinedLine<Ticket>
            dispatch(joined.text, tooLongIssue(joined.bytes + end - start), joined.lineNo, joined.start, end, joined.token)
            return
          }
          dispatch(head, tooLongIssue(end - start), lineNo, start, end, undefined)
        },
        abandon () {
          summary.linesHeldAtExit += (held?.length ?? 0) + partials.size
          if (held !== undefined) held = []
          partials.drain()
        },
        finish () {
          // Pieces whose last piece never came: their joined text is processed as it is (usually invalid_json).
          // They end at the end of the input, since lines of other streams may have been read after them.
          for (const joined of partials.drain()) {
            dispatch(joined.text, joined.tooLong ? tooLongIssue(joined.bytes) : parseJsonLine(joined.text), joined.lineNo, joined.start, lastEnd, joined.token)
          }
          detect(undefined, true)
        }
      }

      function tooLongIssue (bytes: number): LineIssue {
        return reject('line_too_long', `line of ${bytes} bytes is longer than --max-line-bytes ${config.maxLineBytes}`)
      }
    }
  }
}

interface HeldLine {
  raw: string
  record: JsonRecord | LineIssue
  lineNo: number
  start: number
  end: number
  ticket: Ticket | undefined
}

/** Keys whose object value is a request or a response, in some layout (pino-http with renamed keys, GCP's httpRequest). */
const REQUEST_OBJECTS: readonly string[] = ['req', 'request', 'res', 'response', 'http', 'httpRequest']
const TARGET_KEYS: readonly string[] = ['url', 'uri', 'path', 'request_uri', 'RequestPath', 'target']
/** What an access entry records beside its target, in the layouts of common frameworks (zap, echo, logrus, morgan). */
const REQUEST_DETAIL_KEYS: readonly string[] = ['method', 'request_method', 'RequestMethod', 'http_method', 'status', 'statusCode', 'status_code',
  'code', 'DownstreamStatus', 'host', 'remote_ip', 'remote_addr', 'remoteAddress', 'ip', 'client_ip', 'user_agent', 'userAgent', 'referer',
  'referrer', 'latency', 'duration', 'responseTime', 'response_time', 'request_time', 'bytes_in', 'bytes_out', 'protocol', 'proto']

/**
 * A line of a program's own logging: level or msg, and nothing that makes it look like a request (a request or
 * response object, or a target with a method, status, client, user agent or timing). Every format skips such a line as not_an_access_entry.
 * One that looks like a request may be an access entry of a layout no format knows (another framework's
 * middleware): it is held and, if nothing fits, reported (MF_ERR_FORMAT_UNDETECTED), never filtered unseen.
 * An app line that merely mentions a url ("calling upstream") is a plain line.
 */
function isPlainLogLine (record: JsonRecord): boolean {
  if (!('level' in record || 'msg' in record)) return false
  for (const key of REQUEST_OBJECTS) if (isRecord(record[key])) return false
  if (!TARGET_KEYS.some((key) => key in record)) return true
  return !REQUEST_DETAIL_KEYS.some((key) => key in record)
}

function unmappable (err: unknown): LineIssue {
  const message = err instanceof Error ? err.message : String(err)
  return reject('unmappable', `the entry cannot be turned into tracking parameters: ${message}${err instanceof RangeError ? ' (a value nested too deeply?)' : ''}`)
}

function isBlank (text: string): boolean {
  return text.trim().length === 0
}
