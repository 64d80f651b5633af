// Shared state of one benchmark run: settings, generated inputs, CLI invocation, and the sender/tail availability probes.
import { closeSync, mkdtempSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { generateLines, writeLogFile, type BenchFormat, type BenchMix } from '../generate.js'
import { startFakeMatomo } from './fake-matomo.js'
import { runMeasured, startMeasured } from './measure.js'

export type RowStatus = 'ok' | 'skipped' | 'failed'

/** One line of the results table: one scenario variant, its median run. */
export interface Row {
  scenario: string
  variant: string
  status: RowStatus
  note?: string
  lines?: number
  /** Measured runs (after warm-up). */
  repeats?: number
  wallS?: number
  linesPerS?: number
  hitsPerS?: number
  /** Input lines per CPU second (user+sys) of the measured process: steadier than lines/s on a busy machine. */
  linesPerCpuS?: number
  cpuS?: number
  peakRssMiB?: number
  httpRequests?: number
  /** Lowest and highest lines/s over the repeats. */
  minLinesPerS?: number
  maxLinesPerS?: number
  extra?: Record<string, number | string | boolean | null | undefined>
}

export interface Availability {
  state: 'available' | 'unavailable' | 'broken'
  reason: string
}

export interface BenchContext {
  quick: boolean
  root: string
  tmp: string
  /** bin/matomo-forward.js */
  cli: string
  /** A random token for this run: given to both tools, never printed. */
  token: string
  warmups: number
  repeats: number
  log: (message: string) => void
  /** A generated input file (cached per format/mix/lines). */
  input: (format: BenchFormat, mix: BenchMix, lines: number) => Promise<string>
  /** Environment for matomo-forward: the parent's without MATOMO_FORWARD_*, plus the token. */
  cliEnv: () => NodeJS.ProcessEnv
  /** Arguments of an end-to-end `read` (no input files). */
  readArgs: (trackingUrl: string, extra?: readonly string[]) => string[]
  sender: () => Promise<Availability>
  tailer: () => Promise<Availability>
  /** Removes the token from text that may be printed. */
  redact: (text: string) => string
}

const NOT_IN_BUILD = /not available in this build/i

export function createContext (settings: { quick: boolean, root: string, tmp: string, token: string, log: (m: string) => void }): BenchContext {
  const inputs = new Map<string, Promise<string>>()
  let senderProbe: Promise<Availability> | undefined
  let tailProbe: Promise<Availability> | undefined
  // BENCH_CLI: another entry point with the same command line (to exercise the harness itself).
  const cli = process.env.BENCH_CLI ?? join(settings.root, 'bin', 'matomo-forward.js')
  const redact = (text: string): string => text.split(settings.token).join('<token>')

  const ctx: BenchContext = {
    quick: settings.quick,
    root: settings.root,
    tmp: settings.tmp,
    cli,
    token: settings.token,
    warmups: settings.quick ? 0 : 1,
    repeats: settings.quick ? 1 : 5,
    log: settings.log,
    redact,
    input (format, mix, lines) {
      const key = `${format}-${mix}-${lines}`
      let file = inputs.get(key)
      if (file === undefined) {
        const path = join(settings.tmp, `${key}.ndjson`)
        file = writeLogFile(path, { format, mix, lines, seed: 1 }).then(() => path)
        inputs.set(key, file)
      }
      return file
    },
    cliEnv () {
      const env: NodeJS.ProcessEnv = {}
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MATOMO_FORWARD_')) env[k] = v
      env.MATOMO_FORWARD_ACCESS_TOKEN = settings.token
      return env
    },
    readArgs (trackingUrl, extra = []) {
      const stateDir = mkdtempSync(join(settings.tmp, 'state-'))
      return [cli, 'read', '--no-preflight', '--ignore-checkpoints', '--state-dir', stateDir, '--matomo-url', trackingUrl, '--idsite', '1', '--format', 'nginx-json', ...extra]
    },
    sender () {
      senderProbe ??= probeSender(ctx)
      return senderProbe
    },
    tailer () {
      tailProbe ??= probeTail(ctx)
      return tailProbe
    }
  }
  return ctx
}

function firstLine (text: string): string {
  return text.split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 200) ?? ''
}

/** Sends 3 lines with `read`; the e2e scenarios run only if all 3 arrive and the CLI exits 0. */
async function probeSender (ctx: BenchContext): Promise<Availability> {
  const file = await ctx.input('nginx-json', 'pages', 3)
  const server = await startFakeMatomo({ mode: 'instant' })
  try {
    const run = await runMeasured({ command: process.execPath, args: [...ctx.readArgs(server.trackingUrl), file], env: ctx.cliEnv(), timeoutMs: 30_000, sampleIntervalMs: 0 })
    const stats = await server.stats()
    const stderr = ctx.redact(run.stderrTail)
    if (run.exitCode === 0 && stats.hits === 3) return { state: 'available', reason: '' }
    if (NOT_IN_BUILD.test(stderr)) {
      ctx.log(`  sender probe: ${firstLine(stderr.replace(/^.*unexpected error: /m, ''))}`)
      return { state: 'unavailable', reason: 'skipped: sender not available' }
    }
    return { state: 'broken', reason: `sender probe failed: exit ${String(run.exitCode)}, ${stats.hits}/3 hits received; ${firstLine(stderr)}` }
  } finally {
    await server.stop()
  }
}

/** Follows a file with `tail` and appends one line; available if it arrives within 15 s. */
async function probeTail (ctx: BenchContext): Promise<Availability> {
  const sender = await ctx.sender()
  if (sender.state !== 'available') return sender
  const server = await startFakeMatomo({ mode: 'instant' })
  const file = join(ctx.tmp, 'tail-probe.log')
  closeSync(openSync(file, 'w'))
  const args = tailArgs(ctx, server.trackingUrl, file)
  const proc = startMeasured({ command: process.execPath, args, env: ctx.cliEnv(), timeoutMs: 60_000, sampleIntervalMs: 0 })
  let exited = false
  void proc.done.then(() => { exited = true })
  try {
    await sleep(500)
    const [line] = [...generateLines({ format: 'nginx-json', mix: 'pages', lines: 1, baseTimeMs: Date.now() })]
    const fd = openSync(file, 'a')
    writeSync(fd, line + '\n')
    closeSync(fd)
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline && !exited) {
      if ((await server.stats()).hits >= 1) return { state: 'available', reason: '' }
      await sleep(100)
    }
    proc.kill('SIGTERM')
    const run = await proc.done
    const stderr = ctx.redact(run.stderrTail)
    if (NOT_IN_BUILD.test(stderr)) {
      ctx.log(`  tail probe: ${firstLine(stderr.replace(/^.*unexpected error: /m, ''))}`)
      return { state: 'unavailable', reason: 'skipped: tail not available' }
    }
    return { state: 'broken', reason: `tail probe failed: exit ${String(run.exitCode)}, no hit within 15 s; ${firstLine(stderr)}` }
  } finally {
    if (!exited) {
      proc.kill('SIGTERM')
      await proc.done
    }
    await server.stop()
  }
}

export function tailArgs (ctx: BenchContext, trackingUrl: string, file: string, extra: readonly string[] = []): string[] {
  const stateDir = mkdtempSync(join(ctx.tmp, 'state-'))
  return [ctx.cli, 'tail', '--no-preflight', '--ignore-checkpoints', '--state-dir', stateDir, '--start-at', 'beginning', '--matomo-url', trackingUrl, '--idsite', '1', '--format', 'nginx-json', ...extra, file]
}
