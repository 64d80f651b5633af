// The per-line hot path: raw line → JSON → AccessEntry → Matomo params → sink; every line ends as hit, filtered or rejected.
import type { SourceProgress } from './ack/source-progress.js'
import type { Config } from './config/types.js'
import { errors } from './errors.js'
import { createTimeZone, isLineIssue, reject, type JsonRecord, type LineIssue } from './formats/access-entry.js'
import { detectFormat, DETECTION_MAX_LINES } from './formats/detect.js'
import type { LineFormat, ParseContext } from './formats/format.js'
import { FORMATS } from './formats/index.js'
import { parseJsonLine } from './formats/parse-line.js'
import { createRateLimiter, type Logger } from './log.js'
import { createMapper, type Mapper } from './mapping/tracking-params.js'
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
}

export interface LineProcessor {
  forSource: (progress: SourceProgress) => SourceLineHandler
}

export function createLineProcessor (deps: LineProcessorDeps): LineProcessor {
  const { config, summary, sink, logger, rejects } = deps
  const context: ParseContext = {
    timeZone: createTimeZone(config.timezone),
    trackingDataKey: config.trackingDataKey,
    fields: config.fields
  }
  const map: Mapper = createMapper({
    idsite: config.idsite ?? 0,
    accessToken: config.accessToken,
    assumeHttps: config.assumeHttps,
    host: config.host,
    trustedProxy: config.trustedProxy,
    excludePath: config.excludePath,
    excludePattern: config.excludePattern,
    allowedMethod: config.allowedMethod,
    ignoredMethod: config.ignoredMethod,
    routeDetails: config.routeDetails
  })
  const explicitFormat = config.format === 'auto' ? undefined : FORMATS.get(config.format)
  const limiter = createRateLimiter()

  function rejectLine (progress: SourceProgress, issue: LineIssue, raw: string, lineNo: number, start: number, end: number): void {
    summary.reject(issue.reason)
    rejects?.write({ reason: issue.reason, message: issue.message, source: progress.name, line: lineNo, offset: start, raw })
    const gate = limiter(issue.reason)
    if (gate.log) {
      logger.warn({ reason: issue.reason, source: progress.name, line: lineNo, offset: start, suppressed: gate.suppressed },
        `line ${lineNo} of ${progress.name} (offset ${start}) rejected: ${issue.reason}: ${issue.message}`)
    }
    progress.lineDone(end, lineNo)
  }

  function handleRecord (format: LineFormat, progress: SourceProgress, record: JsonRecord, text: string, lineNo: number, start: number, end: number): void {
    const entry = format.parse(record, context)
    if (isLineIssue(entry)) {
      if (entry.kind === 'skip') {
        summary.filter(entry.reason)
        progress.lineDone(end, lineNo)
      } else {
        rejectLine(progress, entry, text, lineNo, start, end)
      }
      return
    }
    const result = map(entry)
    if (typeof result === 'string') {
      summary.filter(result)
      logger.debug({ reason: result, source: progress.name, line: lineNo }, 'filtered')
      progress.lineDone(end, lineNo)
      return
    }
    if (isLineIssue(result)) {
      rejectLine(progress, result, text, lineNo, start, end)
      return
    }
    summary.hits++
    sink.push({ params: result, progress, ticket: progress.hold(start, end, lineNo), lineNo })
  }

  return {
    forSource (progress: SourceProgress): SourceLineHandler {
      let format = explicitFormat
      /** Lines held while --format auto looks for a line it recognises. */
      let held: Array<{ text: string, record: JsonRecord | LineIssue, lineNo: number, start: number, end: number }> | undefined = format === undefined ? [] : undefined

      const decide = (atEnd: boolean): void => {
        if (held === undefined) return
        const records = held.map((h) => h.record).filter((r): r is JsonRecord => !isLineIssue(r))
        const detected = detectFormat(records)
        if (detected.format === undefined) {
          if (!atEnd && detected.ambiguous === undefined) return
          if (records.length === 0 && atEnd) {
            // Nothing but bad lines: there is no format to detect, and each line is rejected on its own.
            format = FORMATS.get('pino-http')
          } else {
            throw errors.MF_ERR_FORMAT_UNDETECTED(progress.name, detected.explanation)
          }
        } else {
          format = detected.format
          logger.info({ source: progress.name, format: format.name }, `detected format ${format.name} in ${progress.name}`)
        }
        const lines = held
        held = undefined
        for (const h of lines) process(h.text, h.record, h.lineNo, h.start, h.end)
      }

      const process = (text: string, record: JsonRecord | LineIssue, lineNo: number, start: number, end: number): void => {
        if (isLineIssue(record)) rejectLine(progress, record, text, lineNo, start, end)
        else handleRecord(format as LineFormat, progress, record, text, lineNo, start, end)
      }

      return {
        line (text, lineNo, start, end) {
          summary.linesRead++
          summary.bytesRead += end - start
          if (text.length === 0 || isBlank(text)) {
            summary.filter('empty_line')
            progress.lineDone(end, lineNo)
            return
          }
          const record = parseJsonLine(text)
          if (held !== undefined) {
            held.push({ text, record, lineNo, start, end })
            decide(held.length >= DETECTION_MAX_LINES)
            return
          }
          process(text, record, lineNo, start, end)
        },
        tooLong (head, lineNo, start, end) {
          summary.linesRead++
          summary.bytesRead += end - start
          const issue = reject('line_too_long', `line of ${end - start} bytes is longer than --max-line-bytes ${config.maxLineBytes}`)
          if (held !== undefined) held.push({ text: head, record: issue, lineNo, start, end })
          else rejectLine(progress, issue, head, lineNo, start, end)
        },
        finish () {
          decide(true)
        }
      }
    }
  }
}

function isBlank (text: string): boolean {
  return text.trim().length === 0
}
