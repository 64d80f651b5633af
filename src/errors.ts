// The one registry of coded errors: every user-facing failure of matomo-forward is created here.
import { format } from 'node:util'

/** Exit codes the CLI maps errors to; see README "Exit codes". */
export const EXIT = Object.freeze({
  ok: 0,
  /** Stopped with hits that were not delivered (retries exhausted, Matomo refused, I/O failure). */
  undelivered: 1,
  /** Bad flag, option, config file or environment: nothing was read. */
  usage: 2,
  /** Finished; everything was read and answered, but Matomo counted some hits invalid. */
  matomoRejected: 3,
  /** Interrupted by a second signal before in-flight batches were answered. */
  interrupted: 130
})

export interface ForwardErrorOptions {
  cause?: unknown
  /** Extra structured detail, e.g. the list of configuration problems. */
  problems?: readonly string[]
}

export class ForwardError extends Error {
  readonly code: string
  readonly exitCode: number
  readonly retryable: boolean
  readonly problems: readonly string[]

  constructor (code: string, message: string, exitCode: number, retryable: boolean, options: ForwardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ForwardError'
    this.code = code
    this.exitCode = exitCode
    this.retryable = retryable
    this.problems = options.problems ?? []
  }

  override toString (): string {
    return `${this.name} [${this.code}]: ${this.message}`
  }
}

export interface ErrorFactory {
  (...args: unknown[]): ForwardError
  readonly code: string
  readonly exitCode: number
}

interface Definition {
  template: string
  exitCode: number
  retryable?: boolean
}

function define (code: string, def: Definition): ErrorFactory {
  const factory = (...args: unknown[]): ForwardError => {
    let options: ForwardErrorOptions | undefined
    const last = args[args.length - 1]
    if (last !== null && typeof last === 'object' && !(last instanceof Error) && ('cause' in last || 'problems' in last)) {
      options = args.pop() as ForwardErrorOptions
    }
    return new ForwardError(code, format(def.template, ...args), def.exitCode, def.retryable ?? false, options)
  }
  return Object.assign(factory, { code, exitCode: def.exitCode })
}

/** Every error code, grouped by area. docs/errors.md has one row per entry (test-enforced). */
export const errors = {
  // CONFIG: detected at start, before any input byte is read.
  MF_ERR_CONFIG_INVALID: define('MF_ERR_CONFIG_INVALID', { template: 'invalid configuration:\n%s', exitCode: EXIT.usage }),
  MF_ERR_CONFIG_TOKEN_REQUIRED: define('MF_ERR_CONFIG_TOKEN_REQUIRED', { template: 'line %d of %s was logged at %s, more than 24 hours ago: Matomo records hits that old only with a token that has write access to the site. Give the token with --access-token-file or MATOMO_FORWARD_ACCESS_TOKEN (nothing was sent)', exitCode: EXIT.usage }),
  // SOURCE: input files.
  MF_ERR_SOURCE_UNREADABLE: define('MF_ERR_SOURCE_UNREADABLE', { template: 'cannot read %s: %s', exitCode: EXIT.undelivered }),
  MF_ERR_SOURCE_NO_MATCH: define('MF_ERR_SOURCE_NO_MATCH', { template: 'no file matches %s', exitCode: EXIT.usage }),
  // FORMAT: format selection (per-line problems are never errors, they are rejects).
  MF_ERR_FORMAT_UNDETECTED: define('MF_ERR_FORMAT_UNDETECTED', { template: 'cannot detect the log format of %s: %s', exitCode: EXIT.usage }),
  // SINK: delivery to Matomo.
  MF_ERR_SINK_CONFIG: define('MF_ERR_SINK_CONFIG', { template: 'Matomo at %s is not answering as a bulk tracking endpoint: %s', exitCode: EXIT.undelivered }),
  MF_ERR_SINK_BLOCKED: define('MF_ERR_SINK_BLOCKED', { template: 'Matomo at %s blocked this IP address after too many failed logins: %s', exitCode: EXIT.undelivered }),
  MF_ERR_SINK_AUTH: define('MF_ERR_SINK_AUTH', { template: 'Matomo refused the token: %s', exitCode: EXIT.undelivered }),
  MF_ERR_SINK_GAVE_UP: define('MF_ERR_SINK_GAVE_UP', { template: 'gave up delivering a batch after %d attempts: %s', exitCode: EXIT.undelivered }),
  MF_ERR_SINK_PREFLIGHT: define('MF_ERR_SINK_PREFLIGHT', { template: 'preflight check failed:\n%s', exitCode: EXIT.undelivered }),
  MF_ERR_SINK_REFUSED: define('MF_ERR_SINK_REFUSED', { template: 'Matomo at %s refused the bulk request: %s', exitCode: EXIT.undelivered }),
  MF_ERR_SINK_UNACCOUNTED: define('MF_ERR_SINK_UNACCOUNTED', { template: 'Matomo answered for fewer hits than were sent (%s); %s', exitCode: EXIT.undelivered }),
  MF_ERR_SINK_STOPPED: define('MF_ERR_SINK_STOPPED', { template: 'stopped with %d hits not delivered: %s', exitCode: EXIT.undelivered }),
  // CHECKPOINT: the state directory.
  MF_ERR_CHECKPOINT_LOCKED: define('MF_ERR_CHECKPOINT_LOCKED', { template: 'state directory %s is in use by process %s; run one matomo-forward per --state-dir', exitCode: EXIT.usage }),
  MF_ERR_CHECKPOINT_CORRUPT: define('MF_ERR_CHECKPOINT_CORRUPT', { template: 'checkpoint file %s is unreadable (%s) and no valid temporary copy exists; move it away to start over, or pass --ignore-checkpoints', exitCode: EXIT.usage }),
  MF_ERR_CHECKPOINT_WRITE: define('MF_ERR_CHECKPOINT_WRITE', { template: 'cannot write checkpoint %s: %s', exitCode: EXIT.undelivered }),
  // OUTPUT: reject file, summary file, stdout.
  MF_ERR_OUTPUT_WRITE: define('MF_ERR_OUTPUT_WRITE', { template: 'cannot write %s: %s', exitCode: EXIT.undelivered })
} as const

export type ErrorCode = keyof typeof errors

export function isForwardError (value: unknown): value is ForwardError {
  return value instanceof ForwardError
}
