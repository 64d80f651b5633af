// Process glue: parse argv, resolve config, run the command, print the summary, map errors to exit codes.
import { fstatSync, statSync, writeFileSync, writeSync, type Stats } from 'node:fs'
import { pathToFileURL } from 'node:url'
import type { Readable } from 'node:stream'
import { resolveConfig } from '../config/resolve.js'
import type { CommandName, Config } from '../config/types.js'
import { EXIT, errors, isForwardError } from '../errors.js'
import { checkWritable } from '../output/writable-path.js'
import type { Summary } from '../summary.js'
import { VERSION } from '../version.js'

export interface CliIo {
  stdin: Readable
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  env: Readonly<Record<string, string | undefined>>
  cwd: string
  /** Aborted on SIGINT/SIGTERM. */
  signal?: AbortSignal
  /** The process is ours: keep its heap near what is live (see heap-governor.ts). */
  boundHeap?: boolean
}

const YARGS_KEYS = new Set(['_', '$0', 'files', 'help', 'h', 'version'])

/** Splits yargs' argv into the command, the files and the flags that were given (by kebab-case name). */
export function flagsOf (argv: Record<string, unknown>): { command: CommandName, files: string[], flags: Record<string, unknown> } {
  const flags: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(argv)) {
    if (YARGS_KEYS.has(key) || value === undefined) continue
    flags[key] = value
  }
  const positional = (argv._ as Array<string | number> | undefined) ?? []
  const command = String(positional[0]) as CommandName
  const files = ((argv.files as Array<string | number> | undefined) ?? []).map(String)
  return { command, files, flags }
}

/** Runs the CLI; returns the exit code. Never calls process.exit. */
export async function main (args: readonly string[], io: CliIo): Promise<number> {
  if (args.length === 1 && args[0] === '--version') {
    // What yargs prints for --version, without loading yargs (start-up time).
    io.stdout.write(VERSION + '\n')
    return EXIT.ok
  }
  const { parseCommandLine } = await import('./parser.js')
  const parsed = await parseCommandLine(args)
  if (parsed.error !== undefined) {
    io.stderr.write(`${parsed.output === '' ? '' : parsed.output + '\n\n'}${errors.MF_ERR_CONFIG_INVALID.code}: ${parsed.error.message}\n`)
    return EXIT.usage
  }
  if (parsed.output !== '') {
    // --help or --version
    io.stdout.write(parsed.output + '\n')
    return EXIT.ok
  }
  const { command, files, flags } = flagsOf(parsed.argv ?? {})
  // Before the config is judged: the secret is in the process list whether or not the rest is valid.
  for (const warning of argvSecretWarnings(flags)) io.stderr.write(`warning: ${warning}\n`)

  let config: Config
  try {
    config = resolveConfig({ command, files, flags, env: io.env, cwd: io.cwd })
    // Found before anything is read or sent, not when the summary is written at the end.
    if (config.summaryJson !== undefined) checkWritable(config.summaryJson)
  } catch (err) {
    return reportError(err, io)
  }

  const { createLogger } = await import('../log.js')
  const logger = createLogger(config.logLevel, io.stderr)
  try {
    // Until the run ends, the file says it has not (exit_code null): a run killed or stopped by a second signal
    // leaves that, not the previous run's outcome.
    // Only to a file of its own: a pipe, a device or our own output (/dev/stdout redirected to a log, a collector's
    // FIFO) gets the outcome alone, at the end.
    if (config.summaryJson !== undefined && config.command !== 'check' && fileOfItsOwn(config.summaryJson)) {
      try {
        await writeSummaryJson(config.summaryJson, undefined, null, undefined)
      } catch (err) {
        return reportError(err, io) // once: nothing ran, and the file would fail again at the end
      }
    }
    const { runCommand } = await import('./run-command.js')
    // Only the process entry bounds the heap: an embedding application owns its own GC policy.
    const governor = io.boundHeap === true ? (await import('./heap-governor.js')).startHeapGovernor() : undefined
    const result = await runCommand(config, { logger, stdin: io.stdin, stdout: io.stdout, signal: io.signal, cwd: io.cwd })
    governor?.stop()
    if (result.error !== undefined) reportError(result.error, io)
    if (result.summary !== undefined) io.stderr.write(result.summary.format({ dryRun: config.dryRun }))
    return await outcomeWritten(config, io, result.summary, result.exitCode, result.error)
  } catch (err) {
    // Stopped before it had a summary (preflight, lock, state directory): the file says so all the same, or a
    // monitor would go on reading the previous run's success.
    return await outcomeWritten(config, io, undefined, reportError(err, io), err)
  }
}

/**
 * Writes --summary-json for read and tail (check has no summary: a shared config must not blank a read's), and
 * returns the exit code: the run's own, or the write's failure when the file could not be written.
 */
async function outcomeWritten (config: Config, io: CliIo, summary: Summary | undefined, exitCode: number, error: unknown): Promise<number> {
  if (config.summaryJson === undefined || config.command === 'check') return exitCode
  try {
    await writeSummaryJson(config.summaryJson, summary, exitCode, error)
    return exitCode
  } catch (err) {
    const code = reportError(err, io)
    return exitCode === EXIT.ok ? code : exitCode
  }
}

/** The summary with how the run ended and why (exit_code, error), so that a monitor reads one file. */
async function writeSummaryJson (path: string, summary: Summary | undefined, exitCode: number | null, error: unknown): Promise<void> {
  const counts = (summary ?? new (await import('../summary.js')).Summary()).toJSON()
  const outcome = { exit_code: exitCode, error: error === undefined ? null : isForwardError(error) ? { code: error.code, message: error.message } : { code: 'unexpected', message: String(error) } }
  const text = JSON.stringify({ ...counts, ...outcome }, null, 2) + '\n'
  try {
    // Our own stdout or stderr (/dev/stdout, redirected to a log by cron): appended through it, never reopened
    // with truncation, which would wipe the log.
    const own = outputFdOf(statOrUndefined(path))
    if (own !== undefined) writeSync(own, text)
    // In place, as the user named it: its mode, owner, links and bind mounts stay (a rename over it would not).
    else writeFileSync(path, text)
  } catch (err) {
    throw errors.MF_ERR_OUTPUT_WRITE(path, (err as Error).message, { cause: err })
  }
}

/** A regular file (through symlinks) that is not our stdout or stderr, or nothing yet. */
function fileOfItsOwn (path: string): boolean {
  const target = statOrUndefined(path)
  return target === undefined || (target.isFile() && outputFdOf(target) === undefined)
}

function statOrUndefined (path: string): Stats | undefined {
  try {
    return statSync(path)
  } catch {
    return undefined
  }
}

/** 1 or 2 when `target` is the very file (or device) our stdout or stderr is. */
function outputFdOf (target: Stats | undefined): 1 | 2 | undefined {
  if (target === undefined) return undefined
  for (const fd of [1, 2] as const) {
    try {
      const out = fstatSync(fd)
      if (out.dev === target.dev && out.ino === target.ino) return fd
    } catch {
      // that descriptor is closed
    }
  }
  return undefined
}

function reportError (err: unknown, io: CliIo): number {
  if (isForwardError(err)) {
    io.stderr.write(`${err.code}: ${err.message}\n`)
    if (io.env.MATOMO_FORWARD_DEBUG === '1' && err.cause !== undefined) io.stderr.write(`cause: ${String((err.cause as Error).stack ?? err.cause)}\n`)
    return err.exitCode
  }
  io.stderr.write(`matomo-forward: unexpected error: ${(err as Error).stack ?? String(err)}\n`)
  return EXIT.undelivered
}

/** Installs SIGINT/SIGTERM: the first signal aborts (drain and exit), the second exits at once. */
function installSignals (controller: AbortController): void {
  let count = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    count++
    if (count === 1) {
      process.stderr.write(`matomo-forward: ${signal}: stopping; waiting for batches in flight (a second signal exits at once)\n`)
      controller.abort(signal)
    } else {
      process.stderr.write(`matomo-forward: ${signal} again: exiting at once (${EXIT.interrupted}); the checkpoint on disk holds only what Matomo acknowledged\n`)
      process.exitCode = EXIT.interrupted
      process.exit(EXIT.interrupted)
    }
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href
const isBin = process.argv[1] !== undefined && /matomo-forward(\.js)?$/.test(process.argv[1])
if (isEntry || isBin) {
  const controller = new AbortController()
  installSignals(controller)
  // yargs' hideBin for plain node: the arguments after the script.
  process.exitCode = await main(process.argv.slice(2), {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
    boundHeap: true
  })
  // Stopped by a signal: the checkpoint and summary are written; requests abandoned at the shutdown timeout
  // must not keep the process alive (their hits are not checkpointed and are sent again next run).
  if (controller.signal.aborted) process.exit()
}

/** Secrets given on the command line, which every user of the machine can read in the process list. */
function argvSecretWarnings (flags: Readonly<Record<string, unknown>>): string[] {
  const warnings: string[] = []
  if (flags['access-token'] !== undefined) {
    warnings.push('--access-token puts the token in the process list, visible to every user of this machine; use --access-token-file or MATOMO_FORWARD_ACCESS_TOKEN.')
  }
  const url = flags['matomo-url']
  if (typeof url === 'string' && /^(?:[a-z][a-z0-9+.-]*:\/\/)?[^/?#@]*:[^/?#]*@/i.test(url)) {
    warnings.push('--matomo-url holds a password (user:password@), which puts it in the process list, visible to every user of this machine; give the URL in MATOMO_FORWARD_MATOMO_URL or the config file (matomoUrl).')
  }
  return warnings
}
