// The benchmark scenarios: each runs its measured commands (warm-up, repeats) and returns one row per variant.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { generateRequests, nginxJsonLine, type BenchFormat, type BenchMix } from './generate.js'
import { tailArgs, type BenchContext, type Row } from './lib/context.js'
import { startFakeMatomo, type FakeMatomoProcess } from './lib/fake-matomo.js'
import { runMeasured, startMeasured, type MeasuredRun, type RssSample, type RunSpec } from './lib/measure.js'
import { median, medianRun } from './lib/stats.js'
import type { ServerStats } from './matomo-server.js'

const CEILING_SCRIPT = fileURLToPath(new URL('json-parse-ceiling.mjs', import.meta.url))
const BARE_SENDER_SCRIPT = fileURLToPath(new URL('bare-sender.mjs', import.meta.url))

export interface Scenario {
  name: string
  /** What it measures, for --list and the README. */
  title: string
  run: (ctx: BenchContext) => Promise<Row[]>
}

/** One measured run, reduced to what the table needs. */
interface Sample {
  wallS: number
  lines: number
  hits: number
  cpuS: number | undefined
  peakRssMiB: number | undefined
  httpRequests: number | undefined
  /** Set when the run did not do what it should (exit code, lost hits): the row fails. */
  problem?: string
  extra?: Row['extra']
  rssSamples?: RssSample[]
}

/** Lines in the main input (e2e-instant, dry-run, ceiling, peer): 100k as in the issue's targets. */
const mainLines = (ctx: BenchContext): number => ctx.quick ? 20_000 : 100_000

async function repeated (ctx: BenchContext, label: string, runOnce: () => Promise<Sample>, counts?: { warmups?: number, repeats?: number }): Promise<Sample[]> {
  const warmups = counts?.warmups ?? ctx.warmups
  const repeats = counts?.repeats ?? ctx.repeats
  for (let i = 0; i < warmups; i++) {
    ctx.log(`  ${label}: warm-up ${i + 1}/${warmups}`)
    await runOnce()
  }
  const samples: Sample[] = []
  for (let i = 0; i < repeats; i++) {
    const s = await runOnce()
    ctx.log(`  ${label}: run ${i + 1}/${repeats}: ${s.wallS.toFixed(3)} s${s.lines > 0 ? `, ${Math.round(s.lines / s.wallS).toLocaleString('en-US')} lines/s` : ''}${s.problem === undefined ? '' : ` (${s.problem})`}`)
    samples.push(s)
    // A run that already failed is not repeated: the row fails either way.
    if (s.problem !== undefined) break
  }
  return samples
}

function rowOf (scenario: string, variant: string, samples: readonly Sample[], note?: string): Row {
  const failed = samples.find((s) => s.problem !== undefined)
  const pick = failed ?? medianRun(samples, (s) => s.wallS)
  const rates = samples.filter((s) => s.lines > 0).map((s) => s.lines / s.wallS)
  const row: Row = {
    scenario,
    variant,
    status: failed === undefined ? 'ok' : 'failed',
    lines: pick.lines,
    repeats: samples.length,
    wallS: pick.wallS,
    // A failed run's speed means nothing (it may have stopped at once): only its resources are shown.
    linesPerS: failed === undefined && pick.lines > 0 ? pick.lines / pick.wallS : undefined,
    hitsPerS: failed === undefined && pick.hits > 0 ? pick.hits / pick.wallS : undefined,
    linesPerCpuS: failed === undefined && pick.lines > 0 && pick.cpuS !== undefined && pick.cpuS > 0 ? pick.lines / pick.cpuS : undefined,
    cpuS: pick.cpuS,
    peakRssMiB: pick.peakRssMiB,
    httpRequests: pick.httpRequests,
    minLinesPerS: failed === undefined && rates.length > 0 ? Math.min(...rates) : undefined,
    maxLinesPerS: failed === undefined && rates.length > 0 ? Math.max(...rates) : undefined,
    extra: pick.extra
  }
  const notes = [failed?.problem, note].filter((n): n is string => n !== undefined && n !== '')
  if (notes.length > 0) row.note = notes.join('; ')
  return row
}

function skipped (scenario: string, variant: string, reason: string, status: Row['status'] = 'skipped'): Row {
  return { scenario, variant, status, note: reason }
}

function exitProblem (ctx: BenchContext, run: MeasuredRun): string | undefined {
  if (run.timedOut) return 'timed out'
  if (run.exitCode === 0) return undefined
  const last = ctx.redact(run.stderrTail).trim().split('\n').filter((l) => l.trim() !== '').slice(-1)[0] ?? ''
  return `exit ${String(run.exitCode ?? run.signal)}${last === '' ? '' : `: ${last.slice(0, 160)}`}`
}

function readSummary (path: string): Record<string, number> | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>
  } catch {
    return undefined
  }
}

function summaryPath (ctx: BenchContext): string {
  return join(mkdtempSync(join(ctx.tmp, 'summary-')), 'summary.json')
}

/** Runs matomo-forward against a fake Matomo that was reset first; hits are what the server stored. */
async function againstServer (ctx: BenchContext, server: FakeMatomoProcess, args: readonly string[], lines: number, options: { stdinRepeat?: { file: string, times: number }, sampleIntervalMs?: number } = {}): Promise<Sample & { stats: ServerStats, summary: Record<string, number> | undefined }> {
  await server.reset()
  const summaryFile = summaryPath(ctx)
  const proc = startMeasured({
    command: process.execPath,
    args: [...args.slice(0, 2), '--summary-json', summaryFile, ...args.slice(2)],
    env: ctx.cliEnv(),
    stdin: options.stdinRepeat === undefined ? undefined : 'pipe',
    sampleIntervalMs: options.sampleIntervalMs ?? 50,
    timeoutMs: 900_000
  })
  if (options.stdinRepeat !== undefined) await feedStdin(proc.stdin!, options.stdinRepeat.file, options.stdinRepeat.times)
  const run = await proc.done
  const stats = await server.stats()
  const summary = readSummary(summaryFile)
  let problem = exitProblem(ctx, run)
  if (problem === undefined && stats.hits !== lines) problem = `server stored ${stats.hits} of ${lines} hits`
  return {
    wallS: run.wallS,
    lines,
    hits: stats.hits,
    cpuS: run.cpuS,
    peakRssMiB: run.peakRssMiB,
    httpRequests: stats.bulkRequests + stats.apiCalls,
    problem,
    rssSamples: run.rssSamples,
    stats,
    summary
  }
}

/** Writes a file's bytes `times` times to a child's stdin, with back pressure. */
async function feedStdin (stdin: NodeJS.WritableStream, file: string, times: number): Promise<void> {
  const block = readFileSync(file)
  // A child that exits early closes the pipe (EPIPE): its exit code tells why, so writing just stops.
  let broken = false
  stdin.on('error', () => { broken = true })
  try {
    for (let i = 0; i < times && !broken; i++) {
      if (!stdin.write(block)) await once(stdin, 'drain')
    }
  } catch {
    broken = true
  }
  if (!broken) stdin.end()
}

const startup: Scenario = {
  name: 'startup',
  title: '`matomo-forward --version`: process start to exit',
  async run (ctx) {
    const samples = await repeated(ctx, 'startup', async () => {
      const run = await runMeasured({ command: process.execPath, args: [ctx.cli, '--version'], sampleIntervalMs: 0 })
      return { wallS: run.wallS, lines: 0, hits: 0, cpuS: run.cpuS, peakRssMiB: run.peakRssMiB, httpRequests: 0, problem: exitProblem(ctx, run) }
    }, { repeats: ctx.quick ? 3 : 11 })
    return [rowOf('startup', '--version', samples)]
  }
}

/** One run of the `JSON.parse` loop over `file`. */
async function ceilingOnce (ctx: BenchContext, file: string, lines: number): Promise<Sample> {
  const out = join(mkdtempSync(join(ctx.tmp, 'ceiling-')), 'out.json')
  const run = await runMeasured({ command: process.execPath, args: [CEILING_SCRIPT, file], stdoutFile: out })
  let problem = exitProblem(ctx, run)
  const parsed = problem === undefined ? (JSON.parse(readFileSync(out, 'utf8')) as { lines: number }).lines : 0
  if (problem === undefined && parsed !== lines) problem = `parsed ${parsed} of ${lines} lines`
  return { wallS: run.wallS, lines, hits: 0, cpuS: run.cpuS, peakRssMiB: run.peakRssMiB, httpRequests: 0, problem }
}

const jsonParseCeiling: Scenario = {
  name: 'json-parse-ceiling',
  title: 'A bare Node loop over the same file: read, split lines, JSON.parse each (the ceiling of any JSON log reader)',
  async run (ctx) {
    const lines = mainLines(ctx)
    const file = await ctx.input('nginx-json', 'pages', lines)
    const samples = await repeated(ctx, 'json-parse-ceiling', async () => await ceilingOnce(ctx, file, lines))
    return [rowOf('json-parse-ceiling', 'nginx-json pages', samples)]
  }
}

const DRY_RUN_VARIANTS: ReadonlyArray<{ format: BenchFormat, mix: BenchMix }> = [
  { format: 'nginx-json', mix: 'pages' },
  { format: 'nginx-json', mix: 'realistic' },
  { format: 'pino-http', mix: 'pages' }
]

/** One `read --dry-run` of `file`; every line must be read. */
async function dryRunOnce (ctx: BenchContext, file: string, format: BenchFormat, lines: number): Promise<Sample> {
  const summaryFile = summaryPath(ctx)
  const run = await runMeasured({ command: process.execPath, args: [ctx.cli, 'read', '--dry-run', '--idsite', '1', '--format', format, '--summary-json', summaryFile, file] })
  const summary = readSummary(summaryFile)
  let problem = exitProblem(ctx, run)
  if (problem === undefined && summary?.lines_read_total !== lines) problem = `read ${String(summary?.lines_read_total)} of ${lines} lines`
  const hits = summary?.hits_total ?? 0
  return { wallS: run.wallS, lines, hits, cpuS: run.cpuS, peakRssMiB: run.peakRssMiB, httpRequests: 0, problem, extra: { hits, filtered: summary?.filtered_total, rejected: summary?.rejected_total } }
}

const dryRun: Scenario = {
  name: 'dry-run',
  title: '`read --dry-run` (parse + map, payloads to /dev/null); nginx-json pages is the one compared with the ceiling',
  async run (ctx) {
    const lines = mainLines(ctx)
    const rows: Row[] = []
    for (const { format, mix } of DRY_RUN_VARIANTS) {
      const file = await ctx.input(format, mix, lines)
      const variant = `${format} ${mix}`
      const samples = await repeated(ctx, `dry-run ${variant}`, async () => await dryRunOnce(ctx, file, format, lines))
      rows.push(rowOf('dry-run', variant, samples))
    }
    return rows
  }
}

const e2eInstant: Scenario = {
  name: 'e2e-instant',
  title: '100k nginx-json page lines to a fake Matomo that answers at once; defaults (batch 200, concurrency 2)',
  async run (ctx) {
    const sender = await ctx.sender()
    if (sender.state !== 'available') return [skipped('e2e-instant', 'nginx-json pages', sender.reason, sender.state === 'broken' ? 'failed' : 'skipped')]
    const lines = mainLines(ctx)
    const file = await ctx.input('nginx-json', 'pages', lines)
    const server = await startFakeMatomo({ mode: 'instant' })
    try {
      const samples = await repeated(ctx, 'e2e-instant', async () => {
        const s = await againstServer(ctx, server, [...ctx.readArgs(server.trackingUrl), file], lines)
        return { ...s, extra: { connections: s.stats.connections, serverCpuS: round(s.stats.cpuUserS + s.stats.cpuSystemS, 2), maxInFlight: s.stats.maxInFlight } }
      })
      return [rowOf('e2e-instant', 'nginx-json pages', samples)]
    } finally {
      await server.stop()
    }
  }
}

/** Runs a sender other than matomo-forward against a reset server; every line must arrive as a hit. */
async function otherSender (ctx: BenchContext, server: FakeMatomoProcess, lines: number, spec: RunSpec): Promise<Sample> {
  await server.reset()
  const run = await runMeasured(spec)
  const stats = await server.stats()
  let problem = exitProblem(ctx, run)
  if (problem === undefined && stats.hits !== lines) problem = `server stored ${stats.hits} of ${lines} hits`
  return { wallS: run.wallS, lines, hits: stats.hits, cpuS: run.cpuS, peakRssMiB: run.peakRssMiB, httpRequests: stats.bulkRequests + stats.apiCalls, problem, extra: { connections: stats.connections } }
}

const bareSender: Scenario = {
  name: 'bare-sender',
  title: 'A reference sender: read, split, JSON.parse, a minimal item, 200 per POST, 2 in flight over node:http; no mapping, checkpoints, retries or accounting (informational)',
  async run (ctx) {
    const lines = mainLines(ctx)
    const file = await ctx.input('nginx-json', 'pages', lines)
    const server = await startFakeMatomo({ mode: 'instant' })
    try {
      const samples = await repeated(ctx, 'bare-sender', async () => await otherSender(ctx, server, lines, {
        command: process.execPath,
        args: [BARE_SENDER_SCRIPT, file, server.trackingUrl],
        env: ctx.cliEnv()
      }))
      return [rowOf('bare-sender', 'nginx-json pages', samples)]
    } finally {
      await server.stop()
    }
  }
}

/** Splits MATOMO_FORWARD_BENCH_PEER on whitespace (quote-free paths only, as documented). */
export function peerCommand (): string[] | undefined {
  const value = process.env.MATOMO_FORWARD_BENCH_PEER?.trim()
  return value === undefined || value === '' ? undefined : value.split(/\s+/)
}

const peer: Scenario = {
  name: 'peer',
  title: 'import_logs.py `--recorders=2 --recorder-max-payload-size=200 --log-format-name=nginx_json --idsite=1` on the same file and server kind as e2e-instant',
  async run (ctx) {
    const command = peerCommand()
    if (command === undefined) return [skipped('peer', 'import_logs.py', 'skipped: MATOMO_FORWARD_BENCH_PEER is not set (see bench/README.md)')]
    const lines = mainLines(ctx)
    const file = await ctx.input('nginx-json', 'pages', lines)
    const server = await startFakeMatomo({ mode: 'instant' })
    try {
      const samples = await repeated(ctx, 'peer', async () => await otherSender(ctx, server, lines, {
        command: command[0]!,
        args: [...command.slice(1), `--url=${server.baseUrl}`, '--recorders=2', '--recorder-max-payload-size=200', '--log-format-name=nginx_json', '--idsite=1', `--token-auth=${ctx.token}`, file],
        timeoutMs: 900_000
      }), { repeats: ctx.quick ? 1 : 3 })
      return [rowOf('peer', 'import_logs.py', samples)]
    } finally {
      await server.stop()
    }
  }
}

/** Rounds of the paired comparison with the ceiling. */
const PAIRED_ROUNDS = 5

/**
 * The ceiling, the dry run and e2e-instant one right after the other, round after round: each ratio compares
 * runs of the same moment. The machine's speed moves 1.5-2× within minutes, so ratios of medians taken minutes
 * apart (the separate scenarios) can be off either way; the targets judge the median of these paired ratios.
 */
const paired: Scenario = {
  name: 'paired',
  title: `The JSON.parse ceiling, the dry run and e2e-instant run back to back, ${PAIRED_ROUNDS} rounds (2 in quick mode): their ratios to the ceiling, per round`,
  async run (ctx) {
    const sender = await ctx.sender()
    const lines = mainLines(ctx)
    const file = await ctx.input('nginx-json', 'pages', lines)
    const server = sender.state === 'available' ? await startFakeMatomo({ mode: 'instant' }) : undefined
    const dry: number[] = []
    const e2e: number[] = []
    try {
      const rounds = ctx.quick ? 2 : PAIRED_ROUNDS
      for (let i = 0; i < rounds; i++) {
        const c = await ceilingOnce(ctx, file, lines)
        const d = await dryRunOnce(ctx, file, 'nginx-json', lines)
        const e = server === undefined ? undefined : await againstServer(ctx, server, [...ctx.readArgs(server.trackingUrl), file], lines)
        const failed = [c, d, e].find((x) => x?.problem !== undefined)
        if (failed !== undefined) return [{ scenario: 'paired', variant: 'dry-run ÷ ceiling', status: 'failed', note: failed.problem }]
        dry.push(c.wallS / d.wallS)
        if (e !== undefined) e2e.push(c.wallS / e.wallS)
        ctx.log(`  paired: round ${i + 1}/${rounds}: ceiling ${c.wallS.toFixed(3)} s, dry run ${d.wallS.toFixed(3)} s${e === undefined ? '' : `, e2e ${e.wallS.toFixed(3)} s`}`)
      }
    } finally {
      await server?.stop()
    }
    const row = (variant: string, ratios: number[]): Row => ({
      scenario: 'paired',
      variant,
      status: 'ok',
      repeats: ratios.length,
      extra: { medianRatio: round(median(ratios), 3) },
      note: `median ${Math.round(median(ratios) * 100)} % of the ceiling's lines/s; per round ${ratios.map((r) => `${Math.round(r * 100)} %`).join(', ')}`
    })
    const rows = [row('dry-run ÷ ceiling', dry)]
    rows.push(e2e.length > 0 ? row('e2e-instant ÷ ceiling', e2e) : skipped('paired', 'e2e-instant ÷ ceiling', sender.reason, sender.state === 'broken' ? 'failed' : 'skipped'))
    return rows
  }
}

export const LATENCY_MS = 250
export const LATENCY_BATCH = 200
export const LATENCY_LEVELS = [1, 4, 16] as const

const e2eLatency: Scenario = {
  name: 'e2e-latency',
  title: `Fake Matomo taking ${LATENCY_MS} ms per bulk request; --concurrency ${LATENCY_LEVELS.join(', ')} with --batch-size ${LATENCY_BATCH}`,
  async run (ctx) {
    const sender = await ctx.sender()
    if (sender.state !== 'available') return LATENCY_LEVELS.map((c) => skipped('e2e-latency', `concurrency ${c}`, sender.reason, sender.state === 'broken' ? 'failed' : 'skipped'))
    // 48 rounds: the ramp from one request in flight (about log2(concurrency) rounds) weighs under 10 %.
    const rounds = ctx.quick ? 8 : 48
    const server = await startFakeMatomo({ mode: 'latency', latencyMs: LATENCY_MS })
    const rows: Row[] = []
    try {
      for (const c of LATENCY_LEVELS) {
        const lines = c * LATENCY_BATCH * rounds
        const file = await ctx.input('nginx-json', 'pages', lines)
        const ideal = (c * LATENCY_BATCH) / (LATENCY_MS / 1000)
        const samples = await repeated(ctx, `e2e-latency c=${c}`, async () => {
          const s = await againstServer(ctx, server, [...ctx.readArgs(server.trackingUrl, ['--concurrency', String(c), '--batch-size', String(LATENCY_BATCH)]), file], lines)
          const windowS = s.stats.firstArrivalMs === undefined || s.stats.lastResponseMs === undefined ? s.wallS : (s.stats.lastResponseMs - s.stats.firstArrivalMs) / 1000
          const windowHitsPerS = s.hits / windowS
          return { ...s, extra: { concurrency: c, windowHitsPerS: Math.round(windowHitsPerS), idealHitsPerS: ideal, efficiency: round(windowHitsPerS / ideal, 3), maxInFlight: s.stats.maxInFlight } }
        }, { repeats: ctx.quick ? 1 : 3 })
        rows.push(rowOf('e2e-latency', `concurrency ${c}`, samples, `server window ${fmt(samples.map((x) => Number(x.extra?.windowHitsPerS)))} hits/s of ideal ${ideal}`))
      }
    } finally {
      await server.stop()
    }
    return rows
  }
}

const tailLatency: Scenario = {
  name: 'tail-latency',
  title: '`tail` on a file written at a steady rate: time from a line\'s write to its arrival at the server (default flush interval)',
  async run (ctx) {
    const tail = await ctx.tailer()
    if (tail.state !== 'available') return [skipped('tail-latency', 'nginx-json', tail.reason, tail.state === 'broken' ? 'failed' : 'skipped')]
    const rate = 500
    const seconds = ctx.quick ? 5 : 20
    const server = await startFakeMatomo({ mode: 'instant' })
    try {
      const samples = await repeated(ctx, 'tail-latency', async () => await tailOnce(ctx, server, rate, seconds), { warmups: 0, repeats: ctx.quick ? 1 : 2 })
      const p = (k: 'p50Ms' | 'p99Ms'): string => String(median(samples.map((x) => Number(x.extra?.[k]))))
      return [rowOf('tail-latency', `${rate} lines/s for ${seconds} s`, samples, `write→arrival p50 ${p('p50Ms')} ms, p99 ${p('p99Ms')} ms (median over runs)`)]
    } finally {
      await server.stop()
    }
  }
}

async function tailOnce (ctx: BenchContext, server: FakeMatomoProcess, rate: number, seconds: number): Promise<Sample> {
  await server.reset()
  const file = join(mkdtempSync(join(ctx.tmp, 'tail-')), 'access.log')
  closeSync(openSync(file, 'w'))
  const proc = startMeasured({ command: process.execPath, args: tailArgs(ctx, server.trackingUrl, file), env: ctx.cliEnv(), sampleIntervalMs: 200, timeoutMs: 300_000 })
  let exited = false
  void proc.done.then(() => { exited = true })
  const fd = openSync(file, 'a')
  const template = generateRequests({ mix: 'pages', lines: 1000, seed: 7 })
  const requests = [...template]
  let written = 0
  const write = (n: number): void => {
    let text = ''
    for (let i = 0; i < n; i++) {
      const now = Date.now()
      const r = requests[written % requests.length]!
      // The line carries its write time; the server subtracts it from the arrival time.
      text += nginxJsonLine({ ...r, timeMs: now, uri: `/tail/${written}?bench_w=${now}` }) + '\n'
      written++
    }
    writeSync(fd, text)
  }
  let problem: string | undefined
  try {
    // Priming: wait until the follower delivers a first line, so start-up time is not counted as latency.
    write(1)
    const primed = await waitFor(async () => (await server.stats()).hits >= 1, 20_000, () => exited)
    if (!primed) problem = 'the first line never arrived'
    else {
      await server.reset()
      written = 0
      const started = performance.now()
      const tickMs = 10
      while (performance.now() - started < seconds * 1000 && !exited) {
        const due = Math.floor(((performance.now() - started) / 1000) * rate) - written
        if (due > 0) write(due)
        await sleep(tickMs)
      }
      const total = written
      const delivered = await waitFor(async () => (await server.stats()).hits >= total, 15_000, () => exited)
      if (!delivered) problem = `server stored ${(await server.stats()).hits} of ${total} hits 15 s after the last write`
    }
  } finally {
    closeSync(fd)
    if (!exited) proc.kill('SIGTERM')
  }
  const run = await proc.done
  const stats = await server.stats()
  // After SIGTERM with every line delivered, a graceful drain exits 0; dying of the signal is a problem too.
  if (problem === undefined && (run.exitCode !== 0 || run.signal !== null)) problem = exitProblem(ctx, run) ?? `killed by ${String(run.signal)}`
  return {
    wallS: run.wallS,
    lines: 0,
    hits: stats.hits,
    cpuS: run.cpuS,
    peakRssMiB: run.peakRssMiB,
    httpRequests: stats.bulkRequests + stats.apiCalls,
    problem,
    extra: { linesWritten: written, p50Ms: stats.delays.p50Ms, p99Ms: stats.delays.p99Ms, maxMs: stats.delays.maxMs }
  }
}

async function waitFor (check: () => Promise<boolean>, timeoutMs: number, stop: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    if (stop()) return await check()
    await sleep(50)
  }
  return false
}

/** RSS growth between the first and the second half of a run (the first 10 % is start-up and ignored); not judged under 10 s. */
export function rssGrowth (samples: readonly RssSample[]): { firstHalfPeakMiB: number, secondHalfPeakMiB: number, growthMiB: number } | undefined {
  const end = samples[samples.length - 1]?.tS ?? 0
  if (samples.length < 8 || end < 10) return undefined
  const peak = (from: number, to: number): number => Math.max(0, ...samples.filter((s) => s.tS > from && s.tS <= to).map((s) => s.rssMiB))
  const first = peak(end * 0.1, end * 0.5)
  const second = peak(end * 0.5, end)
  return { firstHalfPeakMiB: round(first, 1), secondHalfPeakMiB: round(second, 1), growthMiB: round(second - first, 1) }
}

const longStream: Scenario = {
  name: 'long-stream',
  title: 'At least 2 million nginx-json lines through stdin; RSS sampled every 250 ms (100 ms in quick mode) (dry run, and end to end to an instant server)',
  async run (ctx) {
    const block = mainLines(ctx)
    const times = ctx.quick ? 10 : 20
    const lines = block * times
    const every = ctx.quick ? 100 : 250
    const file = await ctx.input('nginx-json', 'pages', block)
    const rows: Row[] = []
    const withGrowth = (s: Sample): Sample => {
      const growth = s.rssSamples === undefined ? undefined : rssGrowth(s.rssSamples)
      return { ...s, extra: { ...s.extra, ...growth, rssSamples: s.rssSamples?.length, rssTimeline: timeline(s.rssSamples ?? []) } }
    }

    const dryRun = async (input: 'stdin' | string): Promise<Sample> => {
      const summaryFile = summaryPath(ctx)
      const proc = startMeasured({ command: process.execPath, args: [ctx.cli, 'read', '--dry-run', '--idsite', '1', '--format', 'nginx-json', '--summary-json', summaryFile, input === 'stdin' ? '-' : input], stdin: input === 'stdin' ? 'pipe' : undefined, sampleIntervalMs: every, timeoutMs: 900_000 })
      if (input === 'stdin') await feedStdin(proc.stdin!, file, times)
      const run = await proc.done
      const summary = readSummary(summaryFile)
      let problem = exitProblem(ctx, run)
      if (problem === undefined && summary?.lines_read_total !== lines) problem = `read ${String(summary?.lines_read_total)} of ${lines} lines`
      return withGrowth({ wallS: run.wallS, lines, hits: summary?.hits_total ?? 0, cpuS: run.cpuS, peakRssMiB: run.peakRssMiB, httpRequests: 0, problem, rssSamples: run.rssSamples })
    }
    rows.push(rowOf('long-stream', 'dry-run', await repeated(ctx, 'long-stream dry-run (stdin)', async () => await dryRun('stdin'), { warmups: 0, repeats: 1 })))
    // The same bytes as one file: memory over a long input even where stdin cannot be read.
    const big = join(ctx.tmp, `long-stream-${lines}.ndjson`)
    const blockBytes = readFileSync(file)
    const fd = openSync(big, 'w')
    for (let i = 0; i < times; i++) writeSync(fd, blockBytes)
    closeSync(fd)
    rows.push(rowOf('long-stream', 'dry-run, one file', await repeated(ctx, 'long-stream dry-run (file)', async () => await dryRun(big), { warmups: 0, repeats: 1 }), 'informational: same lines from a file instead of stdin'))
    rmSync(big, { force: true })

    const sender = await ctx.sender()
    if (sender.state !== 'available') {
      rows.push(skipped('long-stream', 'e2e', sender.reason, sender.state === 'broken' ? 'failed' : 'skipped'))
      return rows
    }
    const server = await startFakeMatomo({ mode: 'instant' })
    try {
      const e2e = await repeated(ctx, 'long-stream e2e', async () => {
        const s = await againstServer(ctx, server, [...ctx.readArgs(server.trackingUrl), '-'], lines, { stdinRepeat: { file, times }, sampleIntervalMs: every })
        return withGrowth(s)
      }, { warmups: 0, repeats: 1 })
      rows.push(rowOf('long-stream', 'e2e', e2e))
    } finally {
      await server.stop()
    }
    return rows
  }
}

/** About ten RSS points (MiB) across the run, for the JSON file. */
function timeline (samples: readonly RssSample[]): string {
  if (samples.length === 0) return ''
  const step = Math.max(1, Math.floor(samples.length / 10))
  const points: string[] = []
  for (let i = 0; i < samples.length; i += step) points.push(`${samples[i]!.tS.toFixed(1)}s:${samples[i]!.rssMiB.toFixed(0)}`)
  return points.join(' ')
}

export const SATURATING = { perHitMs: 1, overheadMs: 25, failAbove: 3 } as const
export const AUTO_FIXED_LEVELS = [1, 2, 3, 4, 8] as const

const concurrencyAuto: Scenario = {
  name: 'concurrency-auto',
  title: `A saturating fake Matomo (${SATURATING.perHitMs} ms per hit shared by the requests in flight, ${SATURATING.overheadMs} ms per request, 500 + rollback above ${SATURATING.failAbove} in flight): --concurrency auto against fixed levels`,
  async run (ctx) {
    const variants = [...AUTO_FIXED_LEVELS.map(String), 'auto']
    const sender = await ctx.sender()
    if (sender.state !== 'available') return variants.map((v) => skipped('concurrency-auto', `concurrency ${v}`, sender.reason, sender.state === 'broken' ? 'failed' : 'skipped'))
    const lines = ctx.quick ? 6_000 : 20_000
    const file = await ctx.input('nginx-json', 'pages', lines)
    const server = await startFakeMatomo({ mode: 'saturating', ...SATURATING })
    const rows: Row[] = []
    try {
      for (const level of variants) {
        const samples = await repeated(ctx, `concurrency-auto ${level}`, async () => {
          const s = await againstServer(ctx, server, [...ctx.readArgs(server.trackingUrl, ['--concurrency', level, '--batch-size', '200', '--max-retries', '3', '--retry-max-delay-ms', '2000']), file], lines)
          const windowS = s.stats.firstArrivalMs === undefined || s.stats.lastResponseMs === undefined ? s.wallS : (s.stats.lastResponseMs - s.stats.firstArrivalMs) / 1000
          return {
            ...s,
            extra: { concurrency: level, windowHitsPerS: Math.round(s.hits / windowS), server500s: s.stats.failedRequests, hitsRolledBack: s.stats.hitsRolledBack, maxInFlight: s.stats.maxInFlight, retries: s.summary?.retries_total }
          }
        }, { warmups: 0, repeats: 1 })
        rows.push(rowOf('concurrency-auto', `concurrency ${level}`, samples, `${String(samples[0]?.extra?.windowHitsPerS)} hits/s stored, ${String(samples[0]?.extra?.server500s)} answers 500`))
      }
    } finally {
      await server.stop()
    }
    return rows
  }
}

export const SCENARIOS: readonly Scenario[] = [startup, jsonParseCeiling, dryRun, e2eInstant, bareSender, peer, paired, e2eLatency, tailLatency, longStream, concurrencyAuto]

export function round (n: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

function fmt (values: readonly number[]): string {
  return Math.round(median(values)).toLocaleString('en-US')
}
