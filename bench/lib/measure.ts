// Runs a child process and measures it: wall time, CPU (user+sys), peak RSS, and RSS sampled over time.
import { spawn, type StdioOptions } from 'node:child_process'
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Writable } from 'node:stream'

/**
 * How CPU and peak RSS are obtained:
 * - gnu-time: /usr/bin/time -f (wait4 rusage of the command: exact CPU and ru_maxrss), Debian/Ubuntu package `time`;
 * - proc-sampling: /proc/<pid>/stat and /proc/<pid>/status read every sampling interval (last sample before
 *   exit: CPU may miss up to one interval, VmHWM is the kernel's own high-water mark);
 * - none: wall time only (no /proc, e.g. macOS).
 */
export type Meter = 'gnu-time' | 'proc-sampling' | 'none'

export interface RssSample { tS: number, rssMiB: number }

export interface MeasuredRun {
  wallS: number
  userS: number | undefined
  sysS: number | undefined
  cpuS: number | undefined
  peakRssMiB: number | undefined
  exitCode: number | null
  signal: NodeJS.Signals | null
  stderrTail: string
  rssSamples: RssSample[]
  meter: Meter
  timedOut: boolean
}

export interface RunSpec {
  command: string
  args: readonly string[]
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** A file to read stdin from, 'pipe' to write it through the handle, or nothing (no stdin). */
  stdin?: string | 'pipe'
  /** Where stdout goes (default /dev/null). */
  stdoutFile?: string
  /** RSS sampling interval; 0 disables the samples (peak RSS is still measured). @default 50 */
  sampleIntervalMs?: number
  /** Killed with SIGKILL after this long. @default 600000 */
  timeoutMs?: number
}

export interface MeasuredProcess {
  /** The measured command's pid once known (not the pid of /usr/bin/time). */
  pid: () => number | undefined
  stdin: Writable | null
  /** Signals the measured command itself. */
  kill: (signal: NodeJS.Signals) => void
  done: Promise<MeasuredRun>
}

const GNU_TIME = '/usr/bin/time'
/** USER_HZ: /proc reports CPU time in these ticks on every Linux. */
const CLOCK_TICKS = 100

export function detectMeter (): Meter {
  const forced = process.env.BENCH_METER
  if (forced === 'gnu-time' || forced === 'proc-sampling' || forced === 'none') return forced
  if (existsSync(GNU_TIME) && existsSync('/proc/self/status')) return 'gnu-time'
  if (existsSync('/proc/self/status')) return 'proc-sampling'
  return 'none'
}

function readProc (pid: number): { rssMiB: number, hwmMiB: number, userS: number, sysS: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const rss = /VmRSS:\s+(\d+) kB/.exec(status)
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status)
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start at index 2 of the man page's numbering.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return {
      rssMiB: rss === null ? 0 : Number(rss[1]) / 1024,
      hwmMiB: hwm === null ? 0 : Number(hwm[1]) / 1024,
      userS: Number(fields[11]) / CLOCK_TICKS,
      sysS: Number(fields[12]) / CLOCK_TICKS
    }
  } catch {
    return undefined
  }
}

function childOf (pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()
    return text === '' ? undefined : Number(text.split(' ')[0])
  } catch {
    return undefined
  }
}

/** Starts the command under the meter; `done` resolves when it has exited. */
export function startMeasured (spec: RunSpec): MeasuredProcess {
  const meter = detectMeter()
  const workDir = mkdtempSync(join(tmpdir(), 'mf-bench-meter-'))
  const timeFile = join(workDir, 'time.txt')
  const stdinFd = spec.stdin !== undefined && spec.stdin !== 'pipe' ? openSync(spec.stdin, 'r') : undefined
  const stdoutFd = openSync(spec.stdoutFile ?? '/dev/null', 'w')
  const stdio: StdioOptions = [stdinFd ?? (spec.stdin === 'pipe' ? 'pipe' : 'ignore'), stdoutFd, 'pipe']
  const [command, args] = meter === 'gnu-time'
    ? [GNU_TIME, ['-f', '%e %U %S %M', '-o', timeFile, '--', spec.command, ...spec.args]]
    : [spec.command, [...spec.args]]
  const started = performance.now()
  const child = spawn(command, args, { env: spec.env ?? process.env, cwd: spec.cwd, stdio })
  if (stdinFd !== undefined) closeSync(stdinFd)
  closeSync(stdoutFd)

  let targetPid: number | undefined = meter === 'gnu-time' ? undefined : child.pid
  const resolveTarget = (): number | undefined => {
    if (targetPid === undefined && child.pid !== undefined) targetPid = childOf(child.pid)
    return targetPid
  }
  const samples: RssSample[] = []
  let lastProc: ReturnType<typeof readProc>
  const interval = spec.sampleIntervalMs ?? 50
  const sample = (): void => {
    const pid = resolveTarget()
    if (pid === undefined) return
    const proc = readProc(pid)
    if (proc === undefined) return
    lastProc = proc
    if (interval > 0) samples.push({ tS: (performance.now() - started) / 1000, rssMiB: proc.rssMiB })
  }
  const sampler = meter === 'none' ? undefined : setInterval(sample, interval > 0 ? interval : 50)
  if (meter !== 'none') setImmediate(sample)

  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (d: string) => {
    stderr += d
    if (stderr.length > 16_384) stderr = stderr.slice(-8_192)
  })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    const pid = resolveTarget()
    if (pid !== undefined) try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    child.kill('SIGKILL')
  }, spec.timeoutMs ?? 600_000)

  const done = new Promise<MeasuredRun>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const wallS = (performance.now() - started) / 1000
      clearTimeout(timer)
      if (sampler !== undefined) clearInterval(sampler)
      let userS: number | undefined
      let sysS: number | undefined
      let peakRssMiB: number | undefined
      if (meter === 'gnu-time') {
        try {
          const lines = readFileSync(timeFile, 'utf8').trim().split('\n')
          const [, u, s, m] = (lines[lines.length - 1] ?? '').split(' ').map(Number)
          userS = u
          sysS = s
          peakRssMiB = m === undefined ? undefined : m / 1024
        } catch { /* killed before time wrote its line */ }
      } else if (lastProc !== undefined) {
        userS = lastProc.userS
        sysS = lastProc.sysS
        peakRssMiB = lastProc.hwmMiB
      }
      rmSync(workDir, { recursive: true, force: true })
      resolve({
        wallS,
        userS,
        sysS,
        cpuS: userS === undefined || sysS === undefined ? undefined : userS + sysS,
        peakRssMiB,
        exitCode: code,
        signal,
        stderrTail: stderr.slice(-4_096),
        rssSamples: samples,
        meter,
        timedOut
      })
    })
  })

  return {
    pid: resolveTarget,
    stdin: child.stdin,
    kill (signal) {
      const pid = resolveTarget()
      if (pid !== undefined) {
        try { process.kill(pid, signal) } catch { /* already gone */ }
      } else {
        child.kill(signal)
      }
    },
    done
  }
}

export async function runMeasured (spec: RunSpec): Promise<MeasuredRun> {
  return await startMeasured(spec).done
}
