// Merges defaults < config file < env MATOMO_FORWARD_* < flags, validates everything at once, and freezes.
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { extname, join, resolve as resolvePath } from 'node:path'
import { createRequire } from 'node:module'
import { CONFIG_ONLY_KEYS, OPTIONS, OPTIONS_BY_KEY, camelCase, envName, type OptionSpec } from '../cli/options.js'
import { errors } from '../errors.js'
import { validateFieldMap } from '../formats/fields.js'
import { isUrlHost } from '../formats/values.js'
import { checkProxyEntry } from '../mapping/client-ip.js'
import type { CommandName, Config, FieldMap, RouteDetails } from './types.js'
import { decodePath } from '../mapping/decode-path.js'
import { coerceOption, compileStartAnchored, type RawValue } from './validate.js'

export interface ResolveInput {
  command: CommandName
  files: readonly string[]
  /** Flags as given on the command line, by kebab-case name; only those present. */
  flags: Readonly<Record<string, unknown>>
  /** The environment to read MATOMO_FORWARD_* and XDG_STATE_HOME from. */
  env: Readonly<Record<string, string | undefined>>
  cwd?: string
  home?: string
}

/** Throws MF_ERR_CONFIG_INVALID listing every problem, or returns the frozen config. */
export function resolveConfig (input: ResolveInput): Config {
  const problems: string[] = []
  const cwd = input.cwd ?? process.cwd()
  const raw = new Map<string, RawValue>()

  for (const spec of OPTIONS) {
    if (spec.default !== undefined) raw.set(spec.name, { value: spec.default, origin: `the default of --${spec.name}`, layer: 0 })
  }

  let fileExtras: Record<string, unknown> = {}
  const configPath = input.flags.config
  if (typeof configPath === 'string' && configPath !== '') {
    const loaded = loadConfigFile(resolvePath(cwd, configPath), problems)
    if (loaded !== undefined) {
      fileExtras = loaded.extras
      for (const [name, value] of loaded.options) raw.set(name, { value, origin: `config key ${camelCase(name)} in ${configPath}`, layer: 1 })
    }
  }

  for (const spec of OPTIONS) {
    if (spec.cliOnly === true) continue
    const value = input.env[envName(spec.name)]
    if (value !== undefined) raw.set(spec.name, { value, origin: `environment variable ${envName(spec.name)}`, layer: 2 })
  }

  for (const [name, value] of Object.entries(input.flags)) {
    if (!OPTIONS.some((o) => o.name === name)) {
      // Its value is not shown: it may be a secret given to a misspelt --access-token.
      const took = typeof value === 'string' || Array.isArray(value) ? ' (it took the argument after it as its value)' : ''
      problems.push(`Unknown option --${name}${took}.`)
      continue
    }
    raw.set(name, { value, origin: `--${name}`, layer: 3 })
  }

  // The token and the token file are one setting: the higher layer wins (flags > env > config), as for any
  // option; only two given in the same layer conflict.
  const token = raw.get('access-token')
  const tokenFile = raw.get('access-token-file')
  if (token !== undefined && tokenFile !== undefined) {
    if (token.layer > tokenFile.layer) raw.delete('access-token-file')
    else if (tokenFile.layer > token.layer) raw.delete('access-token')
    else problems.push(`Give the token once: ${tokenFile.origin} and ${token.origin} both set it.`)
  }

  const values: Record<string, unknown> = {}
  const invalid = new Set<string>()
  for (const spec of OPTIONS) {
    const given = raw.get(spec.name)
    if (given === undefined) continue
    const coerced = coerceOption(spec, given, problems)
    if (coerced === undefined) invalid.add(spec.name)
    else values[camelCase(spec.name)] = coerced
  }

  const originOf = (name: string): string => raw.get(name)?.origin ?? `--${name}`
  crossCheck(input, values, invalid, fileExtras, problems, cwd, originOf)

  if (problems.length > 0) {
    throw errors.MF_ERR_CONFIG_INVALID(problems.map((p) => `  - ${p}`).join('\n'), { problems })
  }

  const stateDir = (values.stateDir as string | undefined) ??
    join(input.env.XDG_STATE_HOME ?? join(input.home ?? homedir(), '.local', 'state'), 'matomo-forward')

  const config = {
    ...values,
    command: input.command,
    files: Object.freeze([...input.files]),
    stateDir: resolvePath(cwd, stateDir),
    routeDetails: deepFreeze((fileExtras.routeDetails ?? {}) as RouteDetails),
    fields: fileExtras.fields === undefined ? undefined : deepFreeze(fileExtras.fields as FieldMap)
  }
  return deepFreeze(config as unknown as Config)
}

interface LoadedFile {
  options: Map<string, unknown>
  extras: Record<string, unknown>
}

function loadConfigFile (path: string, problems: string[]): LoadedFile | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    problems.push(`Cannot read config file ${path}: ${(err as Error).message}.`)
    return undefined
  }
  let parsed: unknown
  try {
    // YAML 1.2 is a superset of JSON; a .json file is parsed strictly as JSON for clearer errors.
    // logLevel 'error': yaml's warnings (an unknown tag) go to process warnings quoting the line, maybe the token's.
    parsed = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : loadYaml().parse(text, { logLevel: 'error' })
  } catch (err) {
    problems.push(`Config file ${path} is not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${parseErrorWithoutText(err, text)}.`)
    return undefined
  }
  if (parsed === null || parsed === undefined) return { options: new Map(), extras: {} }
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`Config file ${path} must hold an object of options, got ${Array.isArray(parsed) ? 'an array' : typeof parsed}.`)
    return undefined
  }
  const options = new Map<string, unknown>()
  const extras: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(parsed)) {
    const spec: OptionSpec | undefined = OPTIONS_BY_KEY.get(key)
    if (CONFIG_ONLY_KEYS.includes(key)) {
      extras[key] = value
    } else if (spec !== undefined && spec.cliOnly !== true) {
      options.set(spec.name, value)
    } else {
      const hint = key === 'config'
        ? ' (a config file cannot name another; give --config once)'
        : OPTIONS_BY_KEY.get(camelCase(key)) === undefined ? '' : ` (did you mean ${camelCase(key)}?)`
      problems.push(`Unknown key "${key}" in config file ${path}${hint}.`)
    }
  }
  return { options, extras }
}

/**
 * Why an exact path (--exclude-path, a routeDetails key) can never equal a request's path, or undefined when it
 * can. Request paths are matched without their query string, always start with a slash, and are compared
 * percent-decoded. `rule` says what such paths must look like.
 */
function exactPathProblem (path: string, rule: string): string | undefined {
  if (!path.startsWith('/') || path.includes('?') || path.includes('#')) return `"${path}" can never match: ${rule}`
  const decoded = decodePath(path)
  return decoded === path ? undefined : `"${path}" has %-escapes, but request paths are matched decoded (as asgi-matomo's ASGI path): write "${decoded}".`
}

function crossCheck (input: ResolveInput, values: Record<string, unknown>, invalid: ReadonlySet<string>, extras: Record<string, unknown>, problems: string[], cwd: string, originOf: (name: string) => string): void {
  const dryRun = values.dryRun === true

  if (input.command !== 'check' && input.files.length === 0) problems.push('Name at least one file, glob, or - for standard input.')

  const url = values.matomoUrl as string | undefined
  if (url === undefined) {
    if (invalid.has('matomo-url')) {
      // already reported
    } else if (!dryRun || input.command === 'check') problems.push('--matomo-url is required (or MATOMO_FORWARD_MATOMO_URL, or matomoUrl in the config file) unless --dry-run.')
  } else {
    const normalised = normaliseMatomoUrl(url)
    if (normalised === undefined) problems.push(`Expected ${originOf('matomo-url')} to be an http:// or https:// URL, got "${redactUrl(url)}".`)
    else values.matomoUrl = normalised
  }

  if (values.idsite === undefined && !invalid.has('idsite')) {
    problems.push('--idsite is required (or MATOMO_FORWARD_IDSITE, or idsite in the config file).')
  }

  for (const path of (values.excludePath as string[] | undefined) ?? []) {
    const problem = exactPathProblem(path, 'exclude paths are exact paths, starting with / and without a query string (e.g. /health; use --exclude-pattern for prefixes).')
    if (problem !== undefined) problems.push(`${originOf('exclude-path')}: ${problem}`)
  }

  const trackingDataKey = values.trackingDataKey as string | undefined
  if (trackingDataKey !== undefined && trackingDataKey.split('.').some((part) => part === '')) {
    problems.push(`Expected ${originOf('tracking-data-key')} to be a key or a dotted path of keys (matomo, ctx.matomo), got "${trackingDataKey}".`)
  }

  const host = values.host as string | undefined
  if (host !== undefined && !isUrlHost(host)) {
    problems.push(`Expected ${originOf('host')} to be a host name with an optional port (www.example.org, example.org:8443, [2001:db8::1]), without scheme or path, got "${host}".`)
  }

  if (values.statusDimension !== undefined && values.statusDimension === values.methodDimension) {
    problems.push(`${originOf('status-dimension')} and ${originOf('method-dimension')} both name custom dimension ${String(values.statusDimension)}: give each its own dimension.`)
  }

  for (const pattern of (values.excludePattern as string[] | undefined) ?? []) {
    try {
      compileStartAnchored(pattern)
    } catch (err) {
      problems.push(`${originOf('exclude-pattern')}: "${pattern}" is not a valid regular expression: ${(err as Error).message}.`)
    }
  }

  const tokenFile = values.accessTokenFile as string | undefined
  if (tokenFile !== undefined) {
    if (values.accessToken === undefined) {
      try {
        const token = readFileSync(resolvePath(cwd, tokenFile), 'utf8').split(/\r?\n/, 1)[0]?.trim() ?? ''
        if (token === '') problems.push(`Token file ${tokenFile} has no token on its first line.`)
        else values.accessToken = token
      } catch (err) {
        problems.push(`Cannot read token file ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`)
      }
    }
  }

  const caFile = values.caFile as string | undefined
  if (caFile !== undefined) {
    try {
      readFileSync(resolvePath(cwd, caFile))
    } catch (err) {
      problems.push(`Cannot read CA file ${caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`)
    }
  }

  const timezone = values.timezone as string | undefined
  if (timezone !== undefined && !isValidTimezone(timezone)) {
    problems.push(`Expected ${originOf('timezone')} to be an IANA time zone (Europe/Paris) or an offset (+02:00), got "${timezone}".`)
  }

  const routeDetails = extras.routeDetails
  if (routeDetails !== undefined) {
    if (!isPlainObject(routeDetails) || !Object.values(routeDetails).every(isPlainObject)) {
      problems.push('Config key routeDetails must map paths to objects of Matomo parameters, e.g. { "/health": { "action_name": "Health" } }.')
    } else {
      for (const key of Object.keys(routeDetails)) {
        const problem = exactPathProblem(key, 'keys are exact paths, starting with / and without a query string (e.g. "/health").')
        if (problem !== undefined) problems.push(`Config key routeDetails: ${problem}`)
      }
    }
  }

  for (const entry of (values.trustedProxy as string[] | undefined) ?? []) {
    const problem = checkProxyEntry(entry)
    if (problem !== undefined) problems.push(`Expected ${originOf('trusted-proxy')} to be an IP address or CIDR range (10.0.0.0/8, 2001:db8::/32), got "${entry}": ${problem}.`)
  }

  const fields = extras.fields
  if (fields !== undefined) problems.push(...validateFieldMap(fields))
  if (values.format === 'fields' && fields === undefined) {
    problems.push('--format fields needs a fields map in the config file (--config).')
  }
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** Accepts a tracking endpoint or a base URL (gets matomo.php appended). Returns undefined if not http(s). */
export function normaliseMatomoUrl (value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
  if (!url.pathname.endsWith('.php')) url.pathname = url.pathname.replace(/\/?$/, '/matomo.php')
  return url.toString()
}

/** Hides a URL's password for messages. */
/**
 * Where and why a config file does not parse, without any of its text: the parsers quote the lines around the
 * error (yaml) or an excerpt (V8's JSON.parse), and the line may be the token's or a URL with a password.
 */
export function parseErrorWithoutText (err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : String(err)
  // yaml: "Tabs are not allowed as indentation at line 4, column 1:\n\n<the lines>".
  const yaml = /^([^\n]*? at line \d+, column \d+)/.exec(message)
  if (yaml !== null) return yaml[1] as string
  // JSON.parse: "… in JSON at position 42" (position only), or "Unexpected token 'o', "<excerpt>" is not valid JSON".
  const at = /^(.*?) in JSON at position (\d+)/.exec(message)
  if (at !== null) {
    const before = text.slice(0, Number(at[2])).split('\n')
    return `${at[1] as string} at line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`
  }
  const token = /^(Unexpected (?:token|end of JSON input)[^,"]*)/.exec(message)
  return token !== null ? (token[1] as string).trim() : 'syntax error'
}

export function redactUrl (value: string): string {
  try {
    const url = new URL(value)
    if (url.protocol === 'http:' || url.protocol === 'https:') {
      if (url.password !== '') url.password = '***'
      return url.toString()
    }
  } catch {
    // Not a URL: handled below.
  }
  // Not an http(s) URL ("user:pw@host" without a scheme even parses, as scheme "user:"), so no parser says where
  // the userinfo ends: hide everything from "//" (or the start) to the last "@" (a password may hold "@", "/" or
  // ":", and the user name may be empty).
  const at = value.lastIndexOf('@')
  if (at === -1) return value
  const slashes = value.indexOf('//')
  const from = slashes !== -1 && slashes < at ? slashes + 2 : 0
  return `${value.slice(0, from)}***${value.slice(at)}`
}

export function isValidTimezone (value: string): boolean {
  // Without Intl for what createTimeZone handles without it: the first Intl.DateTimeFormat loads ICU's time
  // zone data (~8 MiB of RSS, ~10 ms), which the default UTC never needs.
  if (/^[+-]\d{2}:?\d{2}$/.test(value) || value === 'Z' || value === 'UTC' || value === 'Etc/UTC') return true
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value })
    return true
  } catch {
    return false
  }
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}

/** `yaml` is loaded only for a YAML config file: importing it costs ~40 ms of every start-up. */
function loadYaml (): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml')
}
