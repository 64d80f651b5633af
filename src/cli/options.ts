// The single option table: it drives yargs, --help, config-file keys, env names and the README options section.

export type OptionType = 'string' | 'integer' | 'boolean' | 'list' | 'choice'

export type OptionGroup = 'Matomo' | 'Input' | 'Rules' | 'Delivery' | 'State' | 'Output'

/** How each group is titled, in --help and in the README's options section alike. */
export const GROUP_TITLES: Readonly<Record<OptionGroup, string>> = Object.freeze({
  Matomo: 'Matomo',
  Input: 'Input',
  Rules: 'Tracking rules (as asgi-matomo)',
  Delivery: 'Delivery',
  State: 'Checkpoints and shutdown',
  Output: 'Output'
})

export interface OptionSpec {
  /** Flag name, kebab-case, with the unit in the name where there is one. */
  readonly name: string
  readonly type: OptionType
  readonly group: OptionGroup
  readonly description: string
  /** The default value; absent means "unset". */
  readonly default?: string | number | boolean | readonly string[]
  /** For 'choice'; for 'integer' options that also take words (e.g. `auto`). */
  readonly choices?: readonly string[]
  /** Inclusive bounds for 'integer'. */
  readonly min?: number
  readonly max?: number
  readonly alias?: string
  /** Never printed; warned about on argv. */
  readonly secret?: boolean
  /** Only on the command line (not env, not config file). */
  readonly cliOnly?: boolean
  /** Placeholder shown in docs, e.g. FILE. */
  readonly arg?: string
  /** 'list' whose items may hold commas (regular expressions): a string from env or config is one item, not split at commas (a JSON array gives several). */
  readonly noCommaSplit?: boolean
}

const KIB = 1024

export const OPTIONS: readonly OptionSpec[] = Object.freeze([
  // Matomo
  { name: 'matomo-url', type: 'string', group: 'Matomo', arg: 'URL', description: 'Matomo tracking endpoint, e.g. https://matomo.example.org/matomo.php. A base URL gets matomo.php appended. Basic auth may be given as user:password@host (then set the URL in the environment or the config file: argv is visible to every user). Required unless --dry-run.' },
  { name: 'idsite', type: 'integer', group: 'Matomo', min: 1, arg: 'N', description: 'Matomo site id every hit is recorded in. Required.' },
  { name: 'access-token-file', type: 'string', group: 'Matomo', arg: 'FILE', description: 'File holding the Matomo token_auth (first line). With a token, the client IP (cip) is sent and hits older than 24 h are accepted. Prefer this or the environment variable MATOMO_FORWARD_ACCESS_TOKEN.' },
  { name: 'access-token', type: 'string', group: 'Matomo', secret: true, arg: 'TOKEN', description: 'The token itself. WARNING: a value on the command line is visible to every user in the process list; use --access-token-file or MATOMO_FORWARD_ACCESS_TOKEN.' },
  { name: 'ca-file', type: 'string', group: 'Matomo', arg: 'FILE', description: 'PEM file of a private certificate authority to trust for the Matomo URL.' },
  { name: 'insecure', type: 'boolean', group: 'Matomo', default: false, description: 'Do not verify Matomo\'s TLS certificate. Dangerous: anyone on the path can read the token.' },
  { name: 'preflight', type: 'boolean', group: 'Matomo', default: true, description: 'Before sending, check that the URL answers as a bulk tracking endpoint and the token is valid (--no-preflight skips it). Writes no data.' },

  // Input
  { name: 'format', type: 'choice', group: 'Input', default: 'auto', choices: ['auto', 'pino-http', 'nginx-json', 'caddy', 'traefik', 'fields'], description: 'Log format. auto sniffs the first lines and stops with a message if it is unsure.' },
  { name: 'timezone', type: 'string', group: 'Input', default: 'UTC', arg: 'ZONE', description: 'Time zone (IANA name or ±HH:MM) of log times that carry no offset.' },
  { name: 'trusted-proxy', type: 'list', group: 'Input', default: [], arg: 'CIDR', description: 'Proxy address or CIDR range whose X-Forwarded-For entries are trusted (repeatable). The client IP is the last address that is not a trusted proxy; with none, the first address of X-Forwarded-For.' },
  { name: 'max-line-bytes', type: 'integer', group: 'Input', default: 64 * KIB, min: 256, arg: 'BYTES', description: 'Longer lines (not counting the LF or CRLF that ends them) are rejected as line_too_long without being read into memory whole.' },
  { name: 'start-at', type: 'choice', group: 'Input', default: 'end', choices: ['beginning', 'end'], description: 'tail: where to start in a file that has no checkpoint.' },

  // Rules (asgi-matomo's options)
  { name: 'host', type: 'string', group: 'Rules', arg: 'HOST', description: 'Host for the tracked URL when an entry carries none.' },
  { name: 'crash-reports', type: 'boolean', group: 'Rules', default: false, description: 'Send entries that record an error (pino-http err, a 5xx) as crash reports (ca=1, cra): only for a Matomo with the Crash Analytics plugin. Without it Matomo throws on such a hit and fails its whole bulk request (HTTP 500, retried in vain), so by default they are page views like the others, their status in cvar.' },
  { name: 'assume-https', type: 'boolean', group: 'Rules', default: true, description: 'Track URLs as https whatever the logged scheme (--no-assume-https keeps the logged scheme).' },
  { name: 'exclude-path', type: 'list', group: 'Rules', default: [], arg: 'PATH', description: 'Path not to track, exact match against the percent-decoded path (repeatable). Tried first.' },
  { name: 'exclude-pattern', type: 'list', noCommaSplit: true, group: 'Rules', default: [], arg: 'REGEX', description: 'Regular expression matched at the start of the percent-decoded path, like Python re.match (repeatable; in the environment several as a JSON array, since a pattern may hold commas). Tried after paths and methods.' },
  { name: 'allowed-method', type: 'list', group: 'Rules', default: [], arg: 'METHOD', description: 'Only track these HTTP methods (repeatable, case-insensitive). Default: all.' },
  { name: 'ignored-method', type: 'list', group: 'Rules', default: [], arg: 'METHOD', description: 'Never track these HTTP methods (repeatable, case-insensitive). Wins over --allowed-method.' },
  { name: 'status-dimension', type: 'integer', group: 'Rules', min: 1, max: 999, arg: 'ID', description: 'Also send the HTTP status as custom dimension ID (dimensionID=404). cvar, which carries it too, needs the CustomVariables plugin since Matomo 4; custom dimensions are built in. Create the dimension (action scope) in Matomo first.' },
  { name: 'method-dimension', type: 'integer', group: 'Rules', min: 1, max: 999, arg: 'ID', description: 'Also send the HTTP method as custom dimension ID (dimensionID=GET), as --status-dimension does for the status.' },
  { name: 'tracking-data-key', type: 'string', group: 'Rules', default: 'matomo', arg: 'KEY', description: 'Key (dotted path) of the per-request object of extra Matomo parameters in a log entry; merged over the defaults, cvar merged key by key.' },

  // Delivery
  { name: 'batch-size', type: 'integer', group: 'Delivery', default: 200, min: 1, max: 10000, arg: 'N', description: 'Hits per bulk request at most.' },
  { name: 'batch-max-bytes', type: 'integer', group: 'Delivery', default: 512 * KIB, min: 4 * KIB, arg: 'BYTES', description: 'Bulk request body size at most (nginx rejects bodies over 1 MiB by default).' },
  { name: 'flush-interval-ms', type: 'integer', group: 'Delivery', default: 1000, min: 1, arg: 'MS', description: 'A batch is sent when its oldest hit is this old, even if not full.' },
  { name: 'concurrency', type: 'integer', group: 'Delivery', default: 2, min: 1, max: 64, choices: ['auto'], arg: 'N|auto', description: 'Bulk requests in flight at most. auto adapts to Matomo\'s answers. High values against a small Matomo risk deadlocks and duplicate hits (see README).' },
  { name: 'request-timeout-ms', type: 'integer', group: 'Delivery', default: 30000, min: 100, arg: 'MS', description: 'Time allowed for one bulk request.' },
  { name: 'max-retries', type: 'integer', group: 'Delivery', default: 5, min: 0, arg: 'N', description: 'read: retries of one batch before giving up (tail retries forever).' },
  { name: 'retry-max-delay-ms', type: 'integer', group: 'Delivery', default: 30000, min: 1, arg: 'MS', description: 'Longest wait between two retries (exponential backoff with full jitter).' },

  // State
  { name: 'state-dir', type: 'string', group: 'State', arg: 'DIR', description: 'Where checkpoints live. Default: $XDG_STATE_HOME/matomo-forward, else ~/.local/state/matomo-forward.' },
  { name: 'ignore-checkpoints', type: 'boolean', group: 'State', default: false, description: 'Read files from the start, ignoring (and then overwriting) their checkpoints.' },
  { name: 'shutdown-timeout-ms', type: 'integer', group: 'State', default: 10000, min: 0, arg: 'MS', description: 'On SIGINT/SIGTERM, how long to wait for in-flight batches before exiting.' },

  // Output
  { name: 'dry-run', type: 'boolean', group: 'Output', default: false, description: 'Send nothing: print one JSON object per hit to stdout (the params of a bulk item; the token is never in one) and a summary to stderr.' },
  { name: 'reject-file', type: 'string', group: 'Output', arg: 'FILE', description: 'Append rejected lines here as NDJSON (reason, source, line, offset, raw line). Default: rejects.ndjson in the state directory; in dry run, none.' },
  { name: 'summary-json', type: 'string', group: 'Output', arg: 'FILE', description: 'Also write the end-of-run summary to FILE as JSON, with the exit code and the error that stopped the run (exit_code, error).' },
  { name: 'log-level', type: 'choice', group: 'Output', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'], description: 'Level of the tool\'s own logs (JSON lines on stderr).' },
  { name: 'config', type: 'string', group: 'Output', cliOnly: true, arg: 'FILE', description: 'JSON or YAML file with any of these options in camelCase, plus routeDetails and fields.' }
] satisfies OptionSpec[])

/** Config-file keys that are not flags. */
export const CONFIG_ONLY_KEYS: readonly string[] = Object.freeze(['routeDetails', 'fields'])

export function camelCase (name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())
}

export function envName (name: string): string {
  return 'MATOMO_FORWARD_' + name.toUpperCase().replace(/-/g, '_')
}

export const OPTIONS_BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map((o) => [o.name, o]))
export const OPTIONS_BY_KEY: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map((o) => [camelCase(o.name), o]))
