// `npm run bench [-- scenario…]`: builds, runs the scenarios, judges the targets, writes results JSON and the README table.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createContext, type Row } from './lib/context.js'
import { detectMeter } from './lib/measure.js'
import { currentLoad, describeMachine, machineLine, renderMarkdown, updateReadme, type BenchResult } from './lib/report.js'
import { evaluateTargets } from './lib/targets.js'
import { peerCommand, SCENARIOS } from './scenarios.js'

const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
const ROOT = dirname(BENCH_DIR)

function usage (): string {
  return [
    'usage: npm run bench [-- [--quick] [--list] [--no-write] [--readme-only] [scenario…]]',
    '  --readme-only                rewrite the tables in bench/README.md and README.md from results/latest.json',
    '  env BENCH_QUICK=1            fewer lines, no warm-up, one repeat (smoke run)',
    '  env BENCH_SCENARIOS=a,b      same as naming scenarios',
    '  env BENCH_SKIP_BUILD=1       use dist/ as it is',
    '  env MATOMO_FORWARD_BENCH_PEER="python3 /tmp/peer/import_logs.py"   enables the peer scenario',
    '',
    'scenarios:',
    ...SCENARIOS.map((s) => `  ${s.name.padEnd(20)} ${s.title}`)
  ].join('\n')
}

function pythonVersion (): string | undefined {
  const command = peerCommand()
  if (command === undefined) return undefined
  try {
    return execFileSync(command[0]!, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  } catch {
    return undefined
  }
}

function printRow (row: Row): void {
  const parts = [`${row.scenario} / ${row.variant}: ${row.status.toUpperCase()}`]
  if (row.linesPerS !== undefined) parts.push(`${Math.round(row.linesPerS).toLocaleString('en-US')} lines/s`)
  if (row.hitsPerS !== undefined) parts.push(`${Math.round(row.hitsPerS).toLocaleString('en-US')} hits/s`)
  if (row.wallS !== undefined) parts.push(`${row.wallS.toFixed(3)} s`)
  if (row.cpuS !== undefined) parts.push(`CPU ${row.cpuS.toFixed(2)} s`)
  if (row.peakRssMiB !== undefined) parts.push(`peak RSS ${row.peakRssMiB.toFixed(1)} MiB`)
  if (row.httpRequests !== undefined && row.httpRequests > 0) parts.push(`${row.httpRequests} HTTP requests`)
  if (row.note !== undefined) parts.push(row.note)
  console.log('  = ' + parts.join(', '))
}

async function main (): Promise<number> {
  const args = process.argv.slice(2)
  if (args.includes('--help') || args.includes('-h') || args.includes('--list')) {
    console.log(usage())
    return 0
  }
  if (args.includes('--readme-only')) {
    writeReadmes(JSON.parse(readFileSync(join(BENCH_DIR, 'results', 'latest.json'), 'utf8')) as BenchResult)
    return 0
  }
  const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1'
  const named = [...args.filter((a) => !a.startsWith('--')), ...(process.env.BENCH_SCENARIOS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')]
  const unknown = named.filter((n) => !SCENARIOS.some((s) => s.name === n))
  if (unknown.length > 0) {
    console.error(`unknown scenario ${unknown.join(', ')}\n\n${usage()}`)
    return 2
  }
  const selected = named.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => named.includes(s.name))

  if (process.env.BENCH_SKIP_BUILD !== '1') {
    console.log('building dist/ (BENCH_SKIP_BUILD=1 skips this)')
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit', cwd: ROOT })
  }

  const machine = describeMachine(detectMeter(), pythonVersion())
  console.log(machineLine(machine))
  console.log(`${quick ? 'quick' : 'full'} mode; scenarios: ${selected.map((s) => s.name).join(', ')}`)

  const tmp = mkdtempSync(join(tmpdir(), 'mf-bench-'))
  // The token exists only in this process and its children's argv/env: never printed, never written.
  const token = randomBytes(16).toString('hex')
  const ctx = createContext({ quick, root: ROOT, tmp, token, log: (m) => { console.log(m) } })
  const rows: Row[] = []
  try {
    for (const scenario of selected) {
      console.log(`\n# ${scenario.name}: ${scenario.title}`)
      let result: Row[]
      try {
        result = await scenario.run(ctx)
      } catch (err) {
        result = [{ scenario: scenario.name, variant: '-', status: 'failed', note: ctx.redact(`bench error: ${(err as Error).stack ?? String(err)}`).split('\n').slice(0, 3).join(' ') }]
      }
      for (const row of result) printRow(row)
      rows.push(...result)
    }
  } finally {
    if (process.env.BENCH_KEEP_TMP !== '1') rmSync(tmp, { recursive: true, force: true })
  }

  machine.loadAvgEnd = currentLoad()
  const targets = evaluateTargets(rows)
  console.log('\n# targets')
  for (const t of targets) console.log(`  ${t.status.padEnd(4)} ${t.name} (${t.required}): ${t.measured}`)

  const result: BenchResult = { generatedAt: new Date().toISOString(), mode: quick ? 'quick' : 'full', scenarios: selected.map((s) => s.name), machine, rows, targets }
  if (!args.includes('--no-write')) {
    const complete = !quick && selected.length === SCENARIOS.length
    const resultsDir = join(BENCH_DIR, 'results')
    mkdirSync(resultsDir, { recursive: true })
    // Only a full run of every scenario replaces the published numbers; other runs go beside them.
    const file = join(resultsDir, complete ? 'latest.json' : quick ? 'quick.json' : 'partial.json')
    writeFileSync(file, JSON.stringify(result, null, 2) + '\n')
    console.log(`\nwrote ${file}`)
    if (complete || process.env.BENCH_WRITE_README === '1') writeReadmes(result)
  }
  return process.env.BENCH_STRICT === '1' && targets.some((t) => t.status === 'FAIL') ? 1 : 0
}

/** The full table in bench/README.md, and the same table in the performance section of the project README. */
function writeReadmes (result: BenchResult): void {
  const markdown = renderMarkdown(result)
  for (const path of [join(BENCH_DIR, 'README.md'), join(ROOT, 'README.md')]) {
    updateReadme(path, markdown)
    console.log(`updated ${path}`)
  }
}

process.exitCode = await main()
