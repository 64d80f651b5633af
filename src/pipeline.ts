// Wires sources → line processor → sink for one run, and owns the order of shutdown.
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { SourceProgress } from './ack/source-progress.js'
import type { Config } from './config/types.js'
import { createLineProcessor, type LineProcessor } from './line-processor.js'
import type { Logger } from './log.js'
import { createRejectWriter, type RejectWriter } from './output/reject-file.js'
import { createDryRunSink } from './sink/dry-run-sink.js'
import { createMatomoSink, type DeliveryTuning } from './sink/matomo-sink.js'
import type { HitSink } from './sink/sink.js'
import { openFile } from './sources/read-file.js'
import { LineSplitter } from './sources/split-lines.js'
import { Summary } from './summary.js'

export interface ForwardOptions {
  config: Config
  logger: Logger
  stdin?: Readable
  stdout?: NodeJS.WritableStream
  /** Aborting stops reading; what was read is still delivered (see README "Shutdown"). */
  signal?: AbortSignal
  /** Replaces the sink the config asks for (tests, programmatic use). */
  sink?: HitSink
  /** Counts into this summary (so a caller still has it when forward() throws). */
  summary?: Summary
  /** Retry and timer knobs of the Matomo sink (tests, benchmarks). */
  delivery?: DeliveryTuning
}

/** Runs `read` (or a dry run): every input once, in order. Resolves with the summary; throws ForwardError. */
export async function forward (options: ForwardOptions): Promise<Summary> {
  const { config, logger } = options
  const summary = options.summary ?? new Summary()
  const stdout = options.stdout ?? process.stdout
  const rejectPath = config.rejectFile ?? (config.dryRun ? undefined : join(config.stateDir, 'rejects.ndjson'))
  const rejects: RejectWriter | undefined = rejectPath === undefined ? undefined : createRejectWriter(rejectPath)
  const sink = options.sink ?? createSink(config, { stdout, summary, rejects, logger, signal: options.signal, tuning: options.delivery })
  const processor = createLineProcessor({ config, summary, sink, logger, rejects })

  let failure: unknown
  try {
    for (const input of config.files) {
      if (options.signal?.aborted === true) break
      const stream = input === '-' ? (options.stdin ?? process.stdin) : await openFile(input)
      await readStream(stream, input, processor, sink, config, options.signal)
    }
  } catch (err) {
    failure = err
  }
  // Whatever happened while reading, hits already handed to the sink are delivered (or accounted for).
  try {
    await sink.end()
  } finally {
    await rejects?.close()
  }
  if (failure !== undefined) throw failure
  return summary
}

interface SinkDeps {
  stdout: NodeJS.WritableStream
  summary: Summary
  rejects: RejectWriter | undefined
  logger: Logger
  signal: AbortSignal | undefined
  tuning: DeliveryTuning | undefined
}

function createSink (config: Config, deps: SinkDeps): HitSink {
  if (config.dryRun) return createDryRunSink(deps.stdout)
  return createMatomoSink({ config, summary: deps.summary, rejects: deps.rejects, logger: deps.logger, signal: deps.signal, tuning: deps.tuning })
}

/** Reads one input to its end, pausing while the sink is saturated. */
async function readStream (stream: Readable, name: string, processor: LineProcessor, sink: HitSink, config: Config, signal: AbortSignal | undefined): Promise<SourceProgress> {
  const progress = new SourceProgress(name === '-' ? '-' : name, 0)
  const handler = processor.forSource(progress)
  const splitter = new LineSplitter(handler, { maxLineBytes: config.maxLineBytes })
  const onAbort = (): void => { stream.destroy() }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
      if (sink.saturated) await sink.drained()
    }
    splitter.end()
    handler.finish()
  } catch (err) {
    // An abort destroys the stream on purpose: the lines read so far are processed, the rest waits.
    if (signal?.aborted !== true) throw err
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
  return progress
}
