// Starts bench/matomo-server.ts in its own process and talks to its /stats and /reset endpoints.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import split2 from 'split2'
import type { ServerMode, ServerStats } from '../matomo-server.js'

const SERVER_SCRIPT = fileURLToPath(new URL('../matomo-server.ts', import.meta.url))

export interface FakeMatomoProcess {
  port: number
  /** Base URL for import_logs.py's --url. */
  baseUrl: string
  /** Bulk endpoint for matomo-forward's --matomo-url. */
  trackingUrl: string
  pid: number | undefined
  stats: () => Promise<ServerStats>
  reset: () => Promise<void>
  stop: () => Promise<void>
}

export interface StartServerOptions {
  mode: ServerMode
  latencyMs?: number
  perHitMs?: number
  overheadMs?: number
  failAbove?: number
}

export async function startFakeMatomo (options: StartServerOptions): Promise<FakeMatomoProcess> {
  const args = ['--import', 'tsx', SERVER_SCRIPT, '--mode', options.mode]
  if (options.latencyMs !== undefined) args.push('--latency-ms', String(options.latencyMs))
  if (options.perHitMs !== undefined) args.push('--per-hit-ms', String(options.perHitMs))
  if (options.overheadMs !== undefined) args.push('--overhead-ms', String(options.overheadMs))
  if (options.failAbove !== undefined) args.push('--fail-above', String(options.failAbove))
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  // The server announces itself as one NDJSON line on stdout.
  const lines = child.stdout!.pipe(split2((line: string) => JSON.parse(line) as { port: number }))
  const first = await Promise.race([
    once(lines, 'data').then(([announcement]) => announcement as { port: number }),
    once(child, 'exit').then(() => { throw new Error('the fake Matomo exited before printing its port') })
  ])
  const port = first.port
  const baseUrl = `http://127.0.0.1:${port}`
  return {
    port,
    baseUrl,
    trackingUrl: `${baseUrl}/matomo.php`,
    pid: child.pid,
    async stats () {
      const res = await fetch(`${baseUrl}/stats`)
      return await res.json() as ServerStats
    },
    async reset () {
      await fetch(`${baseUrl}/reset`, { method: 'POST' })
    },
    async stop () {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      await exited
    }
  }
}
