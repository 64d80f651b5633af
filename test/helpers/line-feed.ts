// Feeds lines straight into the line processor for one source, with a sink that holds hits until the test acks them.
import { PassThrough } from 'node:stream'
import { SourceProgress } from '../../src/ack/source-progress.js'
import { createLineProcessor } from '../../src/line-processor.js'
import { createLogger } from '../../src/log.js'
import type { Hit, HitSink } from '../../src/sink/sink.js'
import { Summary } from '../../src/summary.js'
import { dryRunConfig } from './run-forward.js'

/** A sink that keeps hits unacknowledged until the test acks them. */
function holdingSink (): HitSink & { hits: Hit[] } {
  const hits: Hit[] = []
  return { hits, push: (hit) => { hits.push(hit) }, saturated: false, drained: async () => {}, end: async () => {} }
}

export const pino = JSON.stringify({ level: 30, time: 1764064800000, req: { url: '/a', headers: { host: 'h' } }, res: { statusCode: 200 }, msg: 'request completed' })
export const TS = '2025-11-25T10:00:00Z'

export interface FeedSetup {
  handler: ReturnType<ReturnType<typeof createLineProcessor>['forSource']>
  progress: SourceProgress
  sink: ReturnType<typeof holdingSink>
  summary: Summary
  /** Feeds whole lines (a newline after each), numbering them and tracking offsets. */
  feed: (lines: string[]) => void
  /** Byte offset after the lines fed so far. */
  offset: () => number
}

/** A processor for one source; `--format pino-http` unless `flags.format` says otherwise. */
export function feedSetup (flags: Record<string, unknown> = {}): FeedSetup {
  const sink = holdingSink()
  const summary = new Summary()
  const processor = createLineProcessor({ config: dryRunConfig(['x'], { format: 'pino-http', ...flags }), summary, sink, logger: createLogger('silent', new PassThrough()), rejects: undefined })
  const progress = new SourceProgress('x')
  const handler = processor.forSource(progress)
  let offset = 0
  let lineNo = 0
  const feed = (lines: string[]): void => {
    for (const line of lines) {
      const end = offset + Buffer.byteLength(line) + 1
      handler.line(line, ++lineNo, offset, end)
      offset = end
    }
  }
  return { handler, progress, sink, summary, feed, offset: () => offset }
}
