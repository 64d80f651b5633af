// Runs one resolved command (read, tail, check) and decides its exit code from the outcome.
import type { Readable } from 'node:stream'
import type { Config } from '../config/types.js'
import { EXIT } from '../errors.js'
import type { Logger } from '../log.js'
import { forward, tail } from '../pipeline.js'
import type { Summary } from '../summary.js'

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
}

export async function runCommand (config: Config, deps: CommandDeps): Promise<CommandResult> {
  switch (config.command) {
    case 'read': {
      const summary = await forward({ config, logger: deps.logger, stdin: deps.stdin, stdout: deps.stdout, signal: deps.signal, cwd: deps.cwd })
      return { summary, exitCode: exitCodeOf(summary) }
    }
    case 'tail': {
      const summary = await tail({ config, logger: deps.logger, stdin: deps.stdin, stdout: deps.stdout, signal: deps.signal, cwd: deps.cwd })
      return { summary, exitCode: exitCodeOf(summary) }
    }
    case 'check':
      throw new Error(`${config.command} is not available in this build`)
  }
}

/**
 * 1 when the shutdown timeout left hits unanswered; 3 when Matomo counted hits invalid; 0 when every hit was
 * delivered or deliberately filtered/rejected.
 */
export function exitCodeOf (summary: Summary): number {
  if (summary.hitsPendingAtExit > 0) return EXIT.undelivered
  if (summary.hitsInvalid > 0 || summary.hitsUnaccounted > 0) return EXIT.matomoRejected
  return EXIT.ok
}
