// Runs one resolved command (read, tail, check) and decides its exit code from the outcome.
import type { Readable } from 'node:stream'
import type { Config } from '../config/types.js'
import { EXIT, errors, isForwardError, type ForwardError } from '../errors.js'
import type { Logger } from '../log.js'
import { forward, tail, type ForwardOptions } from '../pipeline.js'
import type { PreflightReport } from '../sink/preflight.js'
import { Summary } from '../summary.js'

export interface CommandDeps {
  logger: Logger
  stdin: Readable
  stdout: NodeJS.WritableStream
  signal: AbortSignal | undefined
  /** Directory relative inputs are resolved against. */
  cwd?: string
}

export interface CommandResult {
  summary: Summary | undefined
  exitCode: number
  /** The error that stopped the run, when a summary is still worth printing. */
  error?: ForwardError
}

export async function runCommand (config: Config, deps: CommandDeps): Promise<CommandResult> {
  if (config.insecure && !config.dryRun) {
    deps.logger.warn('--insecure: the TLS certificate of Matomo is NOT verified. Anyone on the network path can read the token and the hits. Use --ca-file for a private certificate authority instead.')
  }
  const cleartext = config.dryRun ? undefined : cleartextSecrets(config)
  if (cleartext !== undefined) {
    deps.logger.warn(`--matomo-url is http:// to ${cleartext.host}: ${cleartext.what} sent unencrypted, readable on the network path. Use https://.`)
  }
  switch (config.command) {
    case 'read': {
      return await runPipeline(forward, config, deps)
    }
    case 'tail': {
      return await runPipeline(tail, config, deps)
    }
    case 'check': {
      const report = await preflight(config, deps.signal)
      const { formatPreflight } = await import('../sink/preflight.js')
      deps.stdout.write(formatPreflight(report))
      if (report.ok) return { summary: undefined, exitCode: EXIT.ok }
      // The report is on stdout; the coded error on stderr, as for every failure (scripts grep for MF_ERR_).
      const error = preflightError(report, 'Nothing was sent.')
      return { summary: undefined, exitCode: error.exitCode, error }
    }
  }
}

/** read and tail: preflight, then the pipeline; a coded error still returns the summary of what was done. */
async function runPipeline (run: (options: ForwardOptions) => Promise<Summary>, config: Config, deps: CommandDeps): Promise<CommandResult> {
  if (!config.dryRun && config.preflight) await preflightOrThrow(config, deps)
  const summary = new Summary()
  try {
    await run({ config, logger: deps.logger, stdin: deps.stdin, stdout: deps.stdout, signal: deps.signal, cwd: deps.cwd, summary })
  } catch (err) {
    // The summary still says what was delivered before the stop.
    if (isForwardError(err)) return { summary, exitCode: err.exitCode, error: err }
    throw err
  }
  return { summary, exitCode: exitCodeOf(summary) }
}

/** Runs the preflight with a client of its own; logs warnings, throws MF_ERR_SINK_PREFLIGHT on any failure. */
export async function preflightOrThrow (config: Config, deps: Pick<CommandDeps, 'logger' | 'signal'>): Promise<PreflightReport> {
  const report = await preflight(config, deps.signal)
  for (const check of report.checks) {
    if (check.status === 'warn') deps.logger.warn({ check: check.name }, `preflight: ${check.message}`)
    else if (check.status === 'ok') deps.logger.info({ check: check.name }, `preflight: ${check.message}`)
  }
  if (!report.ok) throw preflightError(report, 'Nothing was sent. (--no-preflight skips these checks.)')
  return report
}

function preflightError (report: PreflightReport, after: string): ForwardError {
  const failed = report.checks.filter((c) => c.status === 'fail').map((c) => `  - ${c.name}: ${c.message}`)
  return errors.MF_ERR_SINK_PREFLIGHT(failed.join('\n') + '\n' + after)
}

async function preflight (config: Config, signal: AbortSignal | undefined): Promise<PreflightReport> {
  // Loaded when needed: the HTTP client is not part of a dry run's start-up.
  const [{ createBulkClient }, { runPreflight }] = await Promise.all([import('../sink/bulk-request.js'), import('../sink/preflight.js')])
  const client = createBulkClient({ matomoUrl: config.matomoUrl as string, timeoutMs: config.requestTimeoutMs, caFile: config.caFile, insecure: config.insecure })
  try {
    return await runPreflight({ client, idsite: config.idsite as number, token: config.accessToken, signal })
  } finally {
    await client.close()
  }
}

/**
 * 1 when hits were not accounted for or the shutdown timeout left hits unanswered; 3 when Matomo counted hits
 * invalid; 0 when every hit was delivered or deliberately filtered/rejected.
 */
export function exitCodeOf (summary: Summary): number {
  if (summary.hitsUnaccounted > 0 || summary.hitsPendingAtExit > 0 || summary.streamsStoppedEarly.length > 0) return EXIT.undelivered
  if (summary.hitsInvalid > 0) return EXIT.matomoRejected
  return EXIT.ok
}

/** Secrets that would cross the network in clear text: http:// to a host that is not this machine. */
export function cleartextSecrets (config: Pick<Config, 'matomoUrl' | 'accessToken'>): { host: string, what: string } | undefined {
  if (config.matomoUrl === undefined) return undefined
  let url: URL
  try {
    url = new URL(config.matomoUrl)
  } catch {
    return undefined
  }
  if (url.protocol !== 'http:' || /^(?:localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i.test(url.hostname)) return undefined
  const what = [config.accessToken === undefined ? undefined : 'token', url.password === '' ? undefined : 'basic-auth password'].filter((w) => w !== undefined)
  return what.length === 0 ? undefined : { host: url.hostname, what: `the ${what.join(' and the ')} ${what.length === 1 ? 'is' : 'are'}` }
}
