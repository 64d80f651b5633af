// Builds the yargs parser from the option table; no I/O, so tests can parse in-process.
import yargs, { type Argv, type Options } from 'yargs'
import { GROUP_TITLES, OPTIONS, envName, type OptionSpec } from './options.js'
import type { CommandName } from '../config/types.js'
import { VERSION } from '../version.js'

export const COMMANDS: ReadonlyArray<{ name: CommandName, usage: string, description: string }> = [
  { name: 'read', usage: 'read [files..]', description: 'Read files once (globs, .gz, or - for standard input), forward every hit, and exit. Resumes from checkpoints.' },
  { name: 'tail', usage: 'tail [files..]', description: 'Follow files as they grow, across rotation and truncation, and forward hits as they are written.' },
  { name: 'check', usage: 'check', description: 'Check the Matomo URL, token and site without sending any data, then exit.' }
]

export const EXAMPLES: ReadonlyArray<readonly [string, string]> = [
  ['MATOMO_FORWARD_ACCESS_TOKEN="$(cat /etc/matomo-forward/token)" $0 tail --matomo-url https://matomo.example.org --idsite 3 /var/log/app/*.log', 'Follow live logs (token from the environment, never on the command line).'],
  ['$0 read --config /etc/matomo-forward.yaml /var/log/nginx/access.json.log.1 /var/log/nginx/access.json.log.2.gz', 'Cron backfill: forward rotated files once; a second run sends only what is new.'],
  ['myapp | $0 read --access-token-file ~/.matomo-token --matomo-url https://matomo.example.org --idsite 3 -', 'Forward the pino-http logs an app writes to standard output.'],
  ['$0 read --dry-run --idsite 1 --host api.example.org fixtures/logs/pino-http.ndjson', 'See the exact Matomo params, without sending anything.']
]

function yargsOption (spec: OptionSpec): Options {
  const option: Options = {
    describe: spec.description + (spec.cliOnly === true ? '' : `  [env ${envName(spec.name)}]`),
    group: GROUP_TITLES[spec.group] + ':',
    // Defaults are applied by config/resolve.ts (flags > env > config file > defaults), so yargs only
    // reports what was actually given; the default is shown for --help.
    defaultDescription: spec.default === undefined ? undefined : Array.isArray(spec.default) ? (spec.default.length === 0 ? 'none' : spec.default.join(', ')) : String(spec.default)
  }
  switch (spec.type) {
    case 'boolean': option.type = 'boolean'; break
    case 'list':
      // One value per occurrence (repeat the flag): `--exclude-path /health access.log` must not eat the file.
      option.type = 'string'
      option.array = true
      option.nargs = 1
      break
    case 'choice':
      // Not yargs `choices`: a bad value is reported by config validation together with every other problem.
      option.type = 'string'
      option.describe = `${spec.description} One of: ${spec.choices?.join(', ') ?? ''}.` + (option.describe as string).slice(spec.description.length)
      option.requiresArg = true
      break
    default:
      // Integers are parsed as strings so that a bad value is reported as given, with the others.
      option.type = 'string'
      option.requiresArg = true
  }
  if (spec.alias !== undefined) option.alias = spec.alias
  return option
}

/**
 * The exported parser (not bound to process.argv). `exitProcess(false)`: help and errors come back to the caller.
 * `wrapHelp`: yargs lays out the help text on every parse (it caches it for error messages); wrapping it to the
 * terminal costs ~35 ms of start-up, so it is only done when help was asked for.
 */
export function createParser (options: { wrapHelp?: boolean } = { wrapHelp: true }): Argv {
  const parser = yargs()
    .scriptName('matomo-forward')
    .usage('$0 <command> [options] <files..>\n\nForward the requests recorded in JSON access logs to Matomo\'s HTTP Tracking API.')
    .parserConfiguration({ 'camel-case-expansion': false, 'strip-aliased': true, 'boolean-negation': true, 'duplicate-arguments-array': true })
    .exitProcess(false)
    .wrap(options.wrapHelp === true ? Math.min(120, process.stdout.columns ?? 100) : null)
    .version(VERSION)
    .help()
    .alias('help', 'h')
    .demandCommand(1, 'Name a command: read, tail or check.')
    .recommendCommands()
    .epilogue('Exit codes: 0 all delivered or deliberately filtered/rejected; 1 stopped with undelivered hits; 2 usage or configuration; 3 finished, but Matomo rejected some hits; 130 a second SIGINT/SIGTERM, exited at once.\nDocs: README.md, docs/errors.md.')
  // Files are optional for yargs: a missing file is reported by config validation with every other problem
  // (yargs would stop at the first, and an unknown flag before the files takes the first file as its value).
  for (const command of COMMANDS) {
    parser.command(command.usage, command.description, (y) => {
      if (command.name !== 'check') y.positional('files', { describe: 'Log files, globs, or - for standard input', type: 'string', array: true })
      return y
    })
  }
  for (const spec of OPTIONS) parser.option(spec.name, yargsOption(spec))
  for (const [command, description] of EXAMPLES) parser.example(command, description)
  // Choice errors are reported by config validation with the other problems, not one at a time.
  parser.strictCommands()
  return parser
}

/** yargs drops a lone "-" from positional arrays; it stands for standard input, so it is carried through as this. */
const STDIN_ARG = '\u0000stdin'

export interface ParsedCommandLine {
  /** Help or version text, when that was asked for. */
  output: string
  error: Error | undefined
  argv: Record<string, unknown> | undefined
}

/** Parses argv without touching the process: help, version and usage errors come back as values. */
export async function parseCommandLine (args: readonly string[]): Promise<ParsedCommandLine> {
  const parser = createParser({ wrapHelp: args.some((a) => a === '--help' || a === '-h') })
  const escaped = args.map((a) => (a === '-' ? STDIN_ARG : a))
  // yargs lays out the whole help text after every command it runs, to have it at hand for a later failure;
  // no failure is reported after our commands run (they have no handler), and the layout costs 40-85 ms.
  const internal = (parser as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } })
  const usage = internal.getInternalMethods?.().getUsageInstance?.()
  if (usage?.cacheHelpMessage !== undefined) usage.cacheHelpMessage = () => undefined
  return await new Promise<ParsedCommandLine>((resolve) => {
    void parser.parse(escaped, {}, (error: Error | undefined, argv: Record<string, unknown>, output: string) => {
      // Names after "--" (a file called -dash.log) land in argv._ after the command, not in the files, and as
      // numbers when they look like one (1.10 became 1.1): taken as given instead.
      const command = Array.isArray(argv._) ? argv._[0] : undefined
      const dashes = escaped.indexOf('--')
      if (dashes !== -1 && (command === 'read' || command === 'tail')) {
        argv.files = [...(Array.isArray(argv.files) ? argv.files : []), ...escaped.slice(dashes + 1)]
        argv._ = [command]
      }
      if (Array.isArray(argv.files)) argv.files = argv.files.map((f: unknown) => (f === STDIN_ARG ? '-' : f))
      resolve({ output, error: error ?? undefined, argv })
    })
  })
}
