// The resolved, validated, frozen configuration every stage of the pipeline reads.

export type FormatName = 'auto' | 'pino-http' | 'nginx-json' | 'caddy' | 'traefik' | 'fields'
export type CommandName = 'read' | 'tail' | 'check'

/** Extra params for one exact path (asgi-matomo `route_details`). */
export type RouteDetails = Readonly<Record<string, Readonly<Record<string, unknown>>>>

/** A field of the `fields` format: a dotted path, optionally with a unit. */
export type FieldSpec = string | { readonly path: string, readonly unit?: string }
export type FieldMap = Readonly<Record<string, FieldSpec>>

export interface Config {
  readonly command: CommandName
  /** Inputs as given: paths, globs, or '-' for stdin. */
  readonly files: readonly string[]

  readonly matomoUrl: string | undefined
  readonly idsite: number | undefined
  /** The token, read from the flag, env or file. Never logged. */
  readonly accessToken: string | undefined
  readonly accessTokenFile: string | undefined
  readonly caFile: string | undefined
  readonly insecure: boolean
  readonly preflight: boolean

  readonly format: FormatName
  readonly timezone: string
  readonly trustedProxy: readonly string[]
  readonly maxLineBytes: number
  readonly startAt: 'beginning' | 'end'

  readonly host: string | undefined
  readonly assumeHttps: boolean
  /** Entries with an error go as crash reports (ca=1, cra): only for a Matomo with Crash Analytics. */
  readonly crashReports: boolean
  readonly excludePath: readonly string[]
  readonly excludePattern: readonly string[]
  readonly allowedMethod: readonly string[]
  readonly ignoredMethod: readonly string[]
  /** Custom dimension ids that also carry the status and the method (`dimensionN`), when set. */
  readonly statusDimension: number | undefined
  readonly methodDimension: number | undefined
  readonly trackingDataKey: string
  readonly routeDetails: RouteDetails
  readonly fields: FieldMap | undefined

  readonly batchSize: number
  readonly batchMaxBytes: number
  readonly flushIntervalMs: number
  /** A number, or 'auto' for adaptive concurrency. */
  readonly concurrency: number | 'auto'
  readonly requestTimeoutMs: number
  readonly maxRetries: number
  readonly retryMaxDelayMs: number

  readonly stateDir: string
  readonly ignoreCheckpoints: boolean
  readonly shutdownTimeoutMs: number

  readonly dryRun: boolean
  readonly rejectFile: string | undefined
  readonly summaryJson: string | undefined
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent'
  readonly config: string | undefined
}
