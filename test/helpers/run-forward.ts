// Runs forward() in-process on real files with the dry-run sink; returns the printed hits, rejects, logs and summary.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import { resolveConfig } from '../../src/config/resolve.js'
import type { Config } from '../../src/config/types.js'
import { createLogger } from '../../src/log.js'
import { forward } from '../../src/pipeline.js'
import type { Summary } from '../../src/summary.js'

export interface RunResult {
  summary: Summary
  hits: Array<Record<string, unknown>>
  rejects: Array<Record<string, unknown>>
  logs: Array<Record<string, unknown>>
}

export const FIXTURES = new URL('../../fixtures/', import.meta.url).pathname

export function fixture (name: string): string {
  return join(FIXTURES, 'logs', name)
}

/** A dry-run config for `files` with extra flags (kebab-case, as on the command line). */
export function dryRunConfig (files: readonly string[], flags: Record<string, unknown> = {}): Config {
  return resolveConfig({ command: 'read', files, flags: { 'dry-run': true, idsite: 1, 'log-level': 'debug', ...flags }, env: {} })
}

function ndjson (text: string): Array<Record<string, unknown>> {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** Runs the pipeline; the reject file goes to a temp dir that is removed afterwards. */
export async function runForward (files: readonly string[], flags: Record<string, unknown> = {}, stdin?: Readable): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'mf-formats-'))
  try {
    const rejectFile = join(dir, 'rejects.ndjson')
    const config = dryRunConfig(files, { 'reject-file': rejectFile, ...flags })
    const stdout = new PassThrough()
    const logStream = new PassThrough()
    let out = ''
    let log = ''
    stdout.on('data', (c: Buffer) => { out += c.toString() })
    logStream.on('data', (c: Buffer) => { log += c.toString() })
    const summary = await forward({ config, logger: createLogger('debug', logStream), stdout, stdin })
    await new Promise((resolve) => setImmediate(resolve))
    const rejects = await readFile(rejectFile, 'utf8').then(ndjson, () => [])
    return { summary, hits: ndjson(out), rejects, logs: ndjson(log) }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** lines read = hits + filtered (by reason) + rejected (by reason), and the printed hits match the count. */
export function assertAddsUp (result: RunResult): void {
  const s = result.summary
  assert.equal(s.linesRead, s.hits + s.filteredTotal + s.rejectedTotal,
    `lines read ${s.linesRead} ≠ hits ${s.hits} + filtered ${s.filteredTotal} + rejected ${s.rejectedTotal}`)
  assert.equal(result.hits.length, s.hits, 'every counted hit was printed')
  assert.equal(result.rejects.length, s.rejectedTotal, 'every rejected line is in the reject file')
}

export function byReason (map: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...map].sort())
}
