// Property: arbitrary bytes, arbitrary JSON and arbitrary values under every format's keys never throw, every line is
// counted once (lines read = hits + filtered + rejected), and every byte is checkpointable at the end.
import assert from 'node:assert/strict'
import { PassThrough, Readable } from 'node:stream'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { SourceProgress } from '../../src/ack/source-progress.js'
import { isForwardError } from '../../src/errors.js'
import { createLineProcessor } from '../../src/line-processor.js'
import { createLogger } from '../../src/log.js'
import type { HitSink } from '../../src/sink/sink.js'
import { LineSplitter } from '../../src/sources/split-lines.js'
import { Summary } from '../../src/summary.js'
import { assertAddsUp, dryRunConfig, runForward } from '../helpers/run-forward.js'

const SEED = Number(process.env.MF_PROPERTY_SEED ?? 20251125)
const FORMAT_NAMES = ['pino-http', 'nginx-json', 'caddy', 'traefik', 'fields'] as const
const FIELDS = { time: { path: 'ts', unit: 'epoch-ms' }, path: 'request.uri', status: 'status', responseTime: { path: 'duration', unit: 'ns' }, remoteAddress: 'ip' }

/** Runs bytes (in the given chunks) through splitter + line processor with a sink that acks at once. */
function runLines (chunks: Uint8Array[], format: string, maxLineBytes = 256): { summary: Summary, progress: SourceProgress, total: number } {
  const summary = new Summary()
  const sink: HitSink = { push: (hit) => hit.progress.ack(hit.ticket), saturated: false, drained: async () => {}, end: async () => {} }
  const config = dryRunConfig(['x'], { format: format === 'fields' ? 'auto' : format, 'max-line-bytes': maxLineBytes, 'access-token': 't', host: 'fallback.example' })
  const withFields = format === 'fields' ? { ...config, format: 'fields' as const, fields: FIELDS } : config
  const processor = createLineProcessor({ config: withFields, summary, sink, logger: createLogger('silent', new PassThrough()), rejects: undefined })
  const progress = new SourceProgress('x')
  const handler = processor.forSource(progress)
  const splitter = new LineSplitter(handler, { maxLineBytes })
  let total = 0
  for (const chunk of chunks) {
    total += chunk.length
    splitter.push(Buffer.from(chunk))
  }
  splitter.end()
  handler.finish()
  return { summary, progress, total }
}

function checkCounts ({ summary, progress, total }: ReturnType<typeof runLines>): void {
  assert.equal(summary.linesRead, summary.hits + summary.filteredTotal + summary.rejectedTotal)
  assert.equal(summary.bytesRead, total)
  assert.equal(progress.outstanding, 0)
  assert.equal(progress.committed, total, 'every line is done, so everything read is checkpointable')
}

const value = fc.oneof(
  fc.string(), fc.integer(), fc.double(), fc.constant(null), fc.boolean(), fc.constantFrom('-', '', '200', '2024-03-10T10:00:00Z', '1710061200.5', '10/Mar/2024:10:00:00 +0000', '/a?b=1', '::1', '1.2.3.4, 10.0.0.1'),
  fc.array(fc.string(), { maxLength: 2 }), fc.dictionary(fc.constantFrom('url', 'uri', 'statusCode', 'headers', 'host', 'remoteAddress', 'User-Agent'), fc.oneof(fc.string(), fc.integer(), fc.array(fc.string(), { maxLength: 2 })), { maxKeys: 4 })
)
const KEYS = ['req', 'res', 'time', 'msg', 'level', 'responseTime', 'err', 'path', 'status', 'date', 'referrer', 'request_uri', 'request', 'time_local', 'msec', 'time_iso8601', 'remote_addr', 'ts', 'duration', 'user_id', 'RequestPath', 'DownstreamStatus', 'StartUTC', 'ClientHost', 'Duration', 'RequestHost', 'matomo', 'ip', 'log', 'stream']
const formatLikeRecord = fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 10 })
/** A line: arbitrary JSON, a record with format keys, or either wrapped by Docker or CRI. */
const jsonLine = fc.oneof(
  fc.json(),
  formatLikeRecord.map((r) => JSON.stringify(r)),
  fc.tuple(formatLikeRecord, fc.boolean()).map(([r, whole]) => JSON.stringify({ log: JSON.stringify(r) + (whole ? '\n' : ''), stream: 'stdout', time: 't' })),
  fc.tuple(formatLikeRecord, fc.constantFrom('P', 'F'), fc.constantFrom('stdout', 'stderr')).map(([r, tag, stream]) => `2025-11-25T10:00:00Z ${stream} ${tag} ${JSON.stringify(r)}`)
)

describe('formats never throw and always count', () => {
  for (const format of FORMAT_NAMES) {
    test(`arbitrary bytes in arbitrary chunks, --format ${format}`, () => {
      fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 8 }), (chunks) => {
        checkCounts(runLines(chunks, format))
      }), { seed: SEED, numRuns: 150 })
    })
    test(`arbitrary JSON lines and format-shaped records, --format ${format}`, () => {
      fc.assert(fc.property(fc.array(jsonLine, { maxLength: 20 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), (lines, eol, finalNewline) => {
        const text = lines.join(eol) + (finalNewline ? eol : '')
        checkCounts(runLines([Buffer.from(text)], format, 1024))
      }), { seed: SEED, numRuns: 150 })
    })
  }

  test('--format auto: either the counts add up or the run stops at start with MF_ERR_FORMAT_UNDETECTED', () => {
    fc.assert(fc.property(fc.array(jsonLine, { maxLength: 20 }), (lines) => {
      try {
        checkCounts(runLines([Buffer.from(lines.join('\n'))], 'auto', 1024))
      } catch (err) {
        if (!isForwardError(err) || err.code !== 'MF_ERR_FORMAT_UNDETECTED') throw err
      }
    }), { seed: SEED, numRuns: 200 })
  })

  test('through forward() on stdin: arbitrary bytes never reject the run', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }), async (chunks) => {
      const r = await runForward(['-'], { format: 'pino-http', 'max-line-bytes': 256 }, Readable.from(chunks.map((c) => Buffer.from(c))))
      assertAddsUp(r)
    }), { seed: SEED, numRuns: 25 })
  })
})
