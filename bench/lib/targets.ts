// The performance targets, judged from the rows of one run: each PASS, FAIL or SKIP with the measured ratio.
import type { Row } from './context.js'

export type TargetStatus = 'PASS' | 'FAIL' | 'SKIP'

export interface Target {
  name: string
  required: string
  status: TargetStatus
  measured: string
  /** The measured value divided by the bound (≥ 1 passes for "at least", ≤ 1 for "under"). */
  ratio?: number
}

const RSS_BOUND_MIB = 100
/** Growth allowed between the first and second half of the long stream before it counts as not flat. */
export const RSS_FLAT_MIB = 10

const int = (n: number | undefined): string => n === undefined ? '?' : Math.round(n).toLocaleString('en-US')
const x = (n: number): string => `${n.toFixed(n >= 10 ? 1 : 2)}×`
const pct = (n: number): string => `${Math.round(n * 100)} %`
/** The same comparison per CPU second, printed beside the wall-clock one (which is what is judged). */
const perCpu = (a: Row, b: Row, asRatio: boolean): string => {
  if (a.linesPerCpuS === undefined || b.linesPerCpuS === undefined) return ''
  const r = a.linesPerCpuS / b.linesPerCpuS
  return ` (per CPU second: ${int(a.linesPerCpuS)} vs ${int(b.linesPerCpuS)} = ${asRatio ? x(r) : pct(r)})`
}

export function evaluateTargets (rows: readonly Row[]): Target[] {
  const find = (scenario: string, variant?: string): Row | undefined =>
    rows.find((r) => r.scenario === scenario && (variant === undefined || r.variant === variant))
  const targets: Target[] = []

  /** Rows a target needs: undefined when all are ok, else the SKIP/FAIL it becomes. */
  const blocked = (name: string, required: string, needed: ReadonlyArray<Row | undefined>, labels: readonly string[]): Target | undefined => {
    for (let i = 0; i < needed.length; i++) {
      const row = needed[i]
      if (row === undefined) return { name, required, status: 'SKIP', measured: `${labels[i]} not run` }
      if (row.status === 'skipped') return { name, required, status: 'SKIP', measured: `${labels[i]}: ${row.note ?? 'skipped'}` }
      if (row.status === 'failed') return { name, required, status: 'FAIL', measured: `${labels[i]} failed: ${row.note ?? ''}` }
    }
    return undefined
  }
  const atLeast = (name: string, required: string, value: number, bound: number, measured: string): Target =>
    ({ name, required, status: value >= bound ? 'PASS' : 'FAIL', measured, ratio: value / bound })

  const e2e = find('e2e-instant')
  const peer = find('peer')
  const ceiling = find('json-parse-ceiling')
  const dry = find('dry-run', 'nginx-json pages')
  /**
   * A ratio to the ceiling is judged on the paired rounds when they ran (each round: the ceiling, then the sender,
   * in the same minute); the ratio of the separate scenarios' medians is shown beside it.
   */
  const pairedRatio = (variant: string): { ratio: number, note: string } | undefined => {
    const row = find('paired', variant)
    const ratio = row?.extra?.medianRatio
    return row?.status === 'ok' && typeof ratio === 'number' ? { ratio, note: row.note ?? '' } : undefined
  }

  {
    const name = 'e2e vs import_logs.py'
    const required = '≥ 10× its lines/s (aim 20×)'
    const b = blocked(name, required, [e2e, peer], ['e2e-instant', 'peer'])
    if (b !== undefined) targets.push(b)
    else {
      const ratio = e2e!.linesPerS! / peer!.linesPerS!
      // For scale: what a sender with no mapping, checkpoints or accounting does in the same run.
      const bare = find('bare-sender', 'nginx-json pages')
      const context = bare?.linesPerS === undefined ? '' : `; the bare sender: ${int(bare.linesPerS)} lines/s = ${x(bare.linesPerS / peer!.linesPerS!)}`
      targets.push({ ...atLeast(name, required, ratio, 10, `${int(e2e!.linesPerS)} vs ${int(peer!.linesPerS)} lines/s = ${x(ratio)}${perCpu(e2e!, peer!, true)}${context}`), ratio })
    }
  }
  {
    const name = 'e2e vs JSON.parse ceiling'
    const required = '≥ 1/4 of the ceiling\'s lines/s'
    const b = blocked(name, required, [e2e, ceiling], ['e2e-instant', 'json-parse-ceiling'])
    if (b !== undefined) targets.push(b)
    else {
      const separate = e2e!.linesPerS! / ceiling!.linesPerS!
      const pairs = pairedRatio('e2e-instant ÷ ceiling')
      const ratio = pairs?.ratio ?? separate
      const medians = `${int(e2e!.linesPerS)} vs ${int(ceiling!.linesPerS)} lines/s = ${pct(separate)}${perCpu(e2e!, ceiling!, false)}`
      targets.push({ ...atLeast(name, required, ratio, 0.25, pairs === undefined ? medians : `paired rounds: ${pairs.note}; separate medians: ${medians}`), ratio })
    }
  }
  {
    const name = 'dry run vs JSON.parse ceiling'
    const required = '≥ 1/2 of the ceiling\'s lines/s'
    const b = blocked(name, required, [dry, ceiling], ['dry-run nginx-json pages', 'json-parse-ceiling'])
    if (b !== undefined) targets.push(b)
    else {
      const separate = dry!.linesPerS! / ceiling!.linesPerS!
      const pairs = pairedRatio('dry-run ÷ ceiling')
      const ratio = pairs?.ratio ?? separate
      const medians = `${int(dry!.linesPerS)} vs ${int(ceiling!.linesPerS)} lines/s = ${pct(separate)}${perCpu(dry!, ceiling!, false)}`
      targets.push({ ...atLeast(name, required, ratio, 0.5, pairs === undefined ? medians : `paired rounds: ${pairs.note}; separate medians: ${medians}`), ratio })
    }
  }
  for (const variant of ['e2e', 'dry-run']) {
    const row = find('long-stream', variant)
    const label = variant === 'e2e' ? 'long stream' : 'long stream (dry run)'
    const b = blocked(`peak RSS, ${label}`, `< ${RSS_BOUND_MIB} MiB`, [row], [`long-stream ${variant}`])
    if (b !== undefined) {
      targets.push(b, { ...b, name: `RSS flat, ${label}`, required: `growth ≤ ${RSS_FLAT_MIB} MiB from 1st to 2nd half` })
      continue
    }
    const peak = row!.peakRssMiB
    targets.push(peak === undefined
      ? { name: `peak RSS, ${label}`, required: `< ${RSS_BOUND_MIB} MiB`, status: 'SKIP', measured: 'no RSS meter on this machine' }
      : { name: `peak RSS, ${label}`, required: `< ${RSS_BOUND_MIB} MiB`, status: peak < RSS_BOUND_MIB ? 'PASS' : 'FAIL', measured: `${peak.toFixed(1)} MiB over ${int(row!.lines)} lines`, ratio: peak / RSS_BOUND_MIB })
    const growth = row!.extra?.growthMiB
    targets.push(typeof growth !== 'number'
      ? { name: `RSS flat, ${label}`, required: `growth ≤ ${RSS_FLAT_MIB} MiB from 1st to 2nd half`, status: 'SKIP', measured: 'run shorter than 10 s (quick mode): flatness not judged' }
      : { name: `RSS flat, ${label}`, required: `growth ≤ ${RSS_FLAT_MIB} MiB from 1st to 2nd half`, status: growth <= RSS_FLAT_MIB ? 'PASS' : 'FAIL', measured: `${String(row!.extra?.firstHalfPeakMiB)} → ${String(row!.extra?.secondHalfPeakMiB)} MiB (${growth >= 0 ? '+' : ''}${growth} MiB)` })
  }
  {
    const name = 'peak RSS, concurrency 16, slow server'
    const required = `< ${RSS_BOUND_MIB} MiB`
    const row = find('e2e-latency', 'concurrency 16')
    const b = blocked(name, required, [row], ['e2e-latency concurrency 16'])
    if (b !== undefined) targets.push(b)
    else if (row!.peakRssMiB === undefined) targets.push({ name, required, status: 'SKIP', measured: 'no RSS meter on this machine' })
    else targets.push({ name, required, status: row!.peakRssMiB < RSS_BOUND_MIB ? 'PASS' : 'FAIL', measured: `${row!.peakRssMiB.toFixed(1)} MiB`, ratio: row!.peakRssMiB / RSS_BOUND_MIB })
  }
  {
    const name = 'linear scaling with --concurrency (250 ms/request)'
    const required = '≥ 90 % of concurrency × batch / 0.25 s at 1, 4, 16'
    const levelRows = rows.filter((r) => r.scenario === 'e2e-latency')
    const b = blocked(name, required, levelRows.length === 0 ? [undefined] : levelRows, levelRows.length === 0 ? ['e2e-latency'] : levelRows.map((r) => `e2e-latency ${r.variant}`))
    if (b !== undefined) targets.push(b)
    else {
      const effs = levelRows.map((r) => Number(r.extra?.efficiency))
      const worst = Math.min(...effs)
      targets.push({ ...atLeast(name, required, worst, 0.9, levelRows.map((r, i) => `c=${String(r.extra?.concurrency)} ${pct(effs[i]!)}`).join(', ')), ratio: worst / 0.9 })
    }
  }
  {
    const name = 'tail p99 write → arrival'
    const required = '< 1.5 s (default flush interval)'
    const row = find('tail-latency')
    const b = blocked(name, required, [row], ['tail-latency'])
    if (b !== undefined) targets.push(b)
    else {
      const p99 = Number(row!.extra?.p99Ms)
      targets.push({ name, required, status: p99 < 1500 ? 'PASS' : 'FAIL', measured: `p50 ${String(row!.extra?.p50Ms)} ms, p99 ${p99} ms`, ratio: p99 / 1500 })
    }
  }
  {
    const name = 'startup (--version)'
    const required = '< 300 ms'
    const row = find('startup')
    const b = blocked(name, required, [row], ['startup'])
    if (b !== undefined) targets.push(b)
    else {
      const ms = row!.wallS! * 1000
      targets.push({ name, required, status: ms < 300 ? 'PASS' : 'FAIL', measured: `${Math.round(ms)} ms (median of ${String(row!.repeats)})`, ratio: ms / 300 })
    }
  }
  {
    const name = '--concurrency auto vs best fixed level'
    const required = '≥ 90 % of the best fixed level, no failures'
    const levelRows = rows.filter((r) => r.scenario === 'concurrency-auto')
    const auto = levelRows.find((r) => r.variant === 'concurrency auto')
    const fixed = levelRows.filter((r) => r !== auto)
    const b = blocked(name, required, [auto], ['concurrency-auto auto'])
    if (b !== undefined) targets.push(b)
    else {
      const clean = fixed.filter((r) => r.status === 'ok' && Number(r.extra?.server500s) === 0)
      const best = clean.reduce<Row | undefined>((a, r) => a === undefined || Number(r.extra?.windowHitsPerS) > Number(a.extra?.windowHitsPerS) ? r : a, undefined)
      const failing = fixed.filter((r) => !clean.includes(r)).map((r) => String(r.extra?.concurrency ?? r.variant.replace('concurrency ', '')))
      if (best === undefined) targets.push({ name, required, status: 'SKIP', measured: 'no fixed level ran cleanly' })
      else {
        const ratio = Number(auto!.extra?.windowHitsPerS) / Number(best.extra?.windowHitsPerS)
        const measured = `auto ${int(Number(auto!.extra?.windowHitsPerS))} vs best fixed (c=${String(best.extra?.concurrency)}) ${int(Number(best.extra?.windowHitsPerS))} hits/s = ${pct(ratio)}; auto saw ${String(auto!.extra?.server500s)} answers 500 (retried); fixed levels with failures: ${failing.length === 0 ? 'none' : failing.join(', ')}`
        targets.push({ ...atLeast(name, required, ratio, 0.9, measured), ratio: ratio / 0.9 })
      }
    }
  }
  return targets
}
