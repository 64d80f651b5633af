// The yargs parser and main(), in-process: commands, flags as given, help, version, and usage errors.
import { createReadStream, readFileSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createParser, parseCommandLine } from '../../../src/cli/parser.js'
import { flagsOf, main } from '../../../src/cli/main.js'
import { OPTIONS } from '../../../src/cli/options.js'
import { VERSION } from '../../../src/version.js'
import { captureIo } from '../../helpers/cli-io.js'
import { tmpDir } from '../../helpers/tmp.js'

async function parse (args: string[]): Promise<Record<string, unknown>> {
  const parsed = await parseCommandLine(args)
  assert.equal(parsed.error, undefined)
  return parsed.argv ?? {}
}

describe('createParser', () => {
  test('read takes files, stdin and repeatable options; only given flags appear', async () => {
    const argv = await parse(['read', '--exclude-path', '/a', 'a.log', '-', '--exclude-path', '/b', '--idsite', '3', '--no-assume-https'])
    const { command, files, flags } = flagsOf(argv)
    assert.equal(command, 'read')
    assert.deepEqual(files, ['a.log', '-'])
    assert.deepEqual(flags, { 'exclude-path': ['/a', '/b'], idsite: '3', 'assume-https': false })
  })

  test('names after -- are files too, even ones that look like flags or -', async () => {
    assert.deepEqual(flagsOf(await parse(['read', '--dry-run', 'a.log', '--', '-dash.log', '--x', '-'])).files, ['a.log', '-dash.log', '--x', '-'])
    assert.deepEqual(flagsOf(await parse(['tail', '--', '-b.log'])).files, ['-b.log'])
    assert.deepEqual(flagsOf(await parse(['read', '--', '1.10', '0x10', '1e3'])).files, ['1.10', '0x10', '1e3'], 'as given, not as numbers')
  })

  test('booleans that are not given stay unset, so env and config can supply them', async () => {
    const { flags } = flagsOf(await parse(['tail', 'x.log']))
    assert.deepEqual(flags, {})
  })

  test('every option of the table is known to the parser', async () => {
    const help = await createParser().getHelp()
    for (const spec of OPTIONS) assert.ok(help.includes(`--${spec.name}`), `--help lists --${spec.name}`)
  })
})

describe('main', () => {
  test('--help shows the commands, the examples for the three uses, and the token warning', async () => {
    const io = captureIo()
    assert.equal(await main(['--help'], io), 0)
    const help = io.out()
    for (const needle of ['read [files..]', 'tail [files..]', 'check', 'Examples:', 'Follow live logs', 'Cron backfill', 'standard output', 'process list', 'MATOMO_FORWARD_ACCESS_TOKEN']) {
      assert.ok(help.includes(needle), `help includes ${needle}`)
    }
    assert.ok(!/--access-token [a-f0-9]{8,}/.test(help), 'no example puts a token on argv')
  })

  test('--version prints the package version', async () => {
    const io = captureIo()
    assert.equal(await main(['--version'], io), 0)
    assert.equal(io.out().trim(), VERSION)
  })

  test('no command is a usage error (exit 2)', async () => {
    const io = captureIo()
    assert.equal(await main([], io), 2)
    assert.match(io.err(), /Name a command/)
  })

  test('all configuration problems are reported at once with exit 2, before reading input', async () => {
    const io = captureIo({ stdin: '{"this":"would be read"}\n' })
    const code = await main(['read', '-', '--idsite', 'x', '--matomo-url', 'nope', '--exclude-pattern', '[', '--format', 'apache', '--bogus'], io)
    assert.equal(code, 2)
    const err = io.err()
    assert.match(err, /^MF_ERR_CONFIG_INVALID: invalid configuration:/)
    for (const needle of ['--idsite', '--matomo-url', '--exclude-pattern', '--format', '--bogus']) assert.ok(err.includes(needle), `mentions ${needle}: ${err}`)
    assert.equal(io.out(), '')
  })

  test('an unknown flag before the files does not hide the other problems (it takes the file as its value)', async () => {
    const io = captureIo({ stdin: '' })
    const code = await main(['read', '--acess-token', 'TOPSECRET', '--idsite', 'x'], io)
    assert.equal(code, 2)
    const err = io.err()
    assert.match(err, /^MF_ERR_CONFIG_INVALID: invalid configuration:/)
    assert.match(err, /Unknown option --acess-token \(it took the argument after it as its value\)/)
    assert.match(err, /--idsite to be an integer/)
    assert.match(err, /Name at least one file/)
    assert.ok(!err.includes('TOPSECRET'), 'the value of a misspelt token option is not shown')
  })

  test('an unwritable --summary-json is reported at start, before any input is read', async (t) => {
    const parent = join(tmpDir(t), 'a-file')
    writeFileSync(parent, '')
    const line = JSON.stringify({ time: Date.now() - 60_000, req: { method: 'GET', url: '/x', headers: { host: 'h.example' } }, res: { statusCode: 200 } })
    const io = captureIo({ stdin: line + '\n' })
    const code = await main(['read', '-', '--dry-run', '--idsite', '1', '--summary-json', join(parent, 'summary.json')], io)
    assert.equal(code, 1)
    assert.match(io.err(), /^MF_ERR_OUTPUT_WRITE: cannot write .*a-file\/summary\.json: ENOTDIR/m)
    assert.equal(io.out(), '', 'nothing was read')
  })

  test('--summary-json to a named pipe gets the outcome alone (no "not ended" document first)', { timeout: 15_000 }, async (t) => {
    const fifo = join(tmpDir(t), 'summary.fifo')
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0)
    const chunks: Buffer[] = []
    const reader = createReadStream(fifo)
    reader.on('data', (c: Buffer | string) => { chunks.push(Buffer.from(c)) })
    const ended = once(reader, 'end')
    const io = captureIo({ stdin: '' })
    assert.equal(await main(['read', '-', '--dry-run', '--idsite', '1', '--summary-json', fifo], io), 0)
    await ended
    const summary = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { exit_code: number }
    assert.equal(summary.exit_code, 0)
  })

  test('a dry run stopped while lines are held for format detection: held lines are not pending hits', async (t) => {
    const controller = new AbortController()
    const stdin = new PassThrough()
    stdin.write('{"ts":1,"svc":"x","event":"started"}\n')
    const io = { ...captureIo(), stdin, signal: controller.signal }
    const summaryPath = join(tmpDir(t), 'summary.json')
    const running = main(['read', '-', '--dry-run', '--idsite', '1', '--summary-json', summaryPath], io)
    // Aborted once the line was taken from standard input (a slow start-up under load must not abort earlier).
    for (let i = 0; i < 500 && stdin.readableLength > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    await new Promise((resolve) => setTimeout(resolve, 50))
    // While it runs, the file says the run has not ended (a kill -9 or a second signal leaves that, not an old outcome).
    assert.deepEqual((JSON.parse(readFileSync(summaryPath, 'utf8')) as { exit_code: unknown }).exit_code, null)
    controller.abort()
    // Exit 1 only because standard input was stopped before its end (it cannot be resumed).
    assert.equal(await running, 1)
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as { exit_code: number, hits_pending_at_exit_total: number, lines_held_at_exit_total: number, streams_stopped_early: string[] }
    assert.equal(summary.exit_code, 1)
    assert.equal(summary.hits_pending_at_exit_total, 0)
    assert.equal(summary.lines_held_at_exit_total, 1)
    assert.deepEqual(summary.streams_stopped_early, ['standard input'])
  })

  test('--access-token on argv works but warns; the token is never printed', async () => {
    const io = captureIo({ stdin: '' })
    const code = await main(['read', '-', '--dry-run', '--idsite', '1', '--access-token', 'TOPSECRET'], io)
    assert.equal(code, 0)
    assert.match(io.err(), /process list/)
    assert.ok(!io.err().includes('TOPSECRET') && !io.out().includes('TOPSECRET'))
  })

  test('secrets on argv are warned about even when the configuration is refused; a password in --matomo-url too', async () => {
    const io = captureIo({ stdin: '' })
    const code = await main(['read', '-', '--idsite', 'x', '--access-token', 'TOPSECRET', '--matomo-url', 'https://u:PWSECRET@m.example.org/matomo.php'], io)
    assert.equal(code, 2)
    assert.match(io.err(), /--access-token puts the token in the process list/)
    assert.match(io.err(), /--matomo-url holds a password .* MATOMO_FORWARD_MATOMO_URL/)
    assert.ok(!/SECRET/.test(io.err() + io.out()), io.err())
    const plain = captureIo({ stdin: '' })
    await main(['read', '-', '--dry-run', '--idsite', '1', '--matomo-url', 'https://u@m.example.org/matomo.php'], plain)
    assert.ok(!/holds a password/.test(plain.err()), 'a user name alone is no secret')
  })

  test('a dry run over stdin prints params and a summary', async () => {
    const line = JSON.stringify({ time: 1764064801000, req: { method: 'GET', url: '/x?y=1', headers: { host: 'h.example', 'user-agent': 'UA' } }, res: { statusCode: 200 }, responseTime: 3 })
    const io = captureIo({ stdin: line + '\n', env: { MATOMO_FORWARD_ACCESS_TOKEN: 'TOKENVALUE' } })
    assert.equal(await main(['read', '-', '--dry-run', '--idsite', '4', '--log-level', 'warn'], io), 0)
    const hits = io.out().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.equal(hits.length, 1)
    assert.equal(hits[0]?.url, 'https://h.example/x?y=1')
    assert.equal(hits[0]?.token_auth, undefined, 'the token goes once per bulk body, never into a hit')
    assert.match(io.err(), /lines read +1/)
    assert.ok(!io.err().includes('TOKENVALUE') && !io.out().includes('TOKENVALUE'))
  })
})
