// Config resolution: precedence, coercion, and every problem reported at once before any input is read.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { resolveConfig, normaliseMatomoUrl, redactUrl, type ResolveInput } from '../../../src/config/resolve.js'
import { isForwardError, type ForwardError } from '../../../src/errors.js'
import { tmpDir } from '../../helpers/tmp.js'

function input (over: Partial<ResolveInput> = {}): ResolveInput {
  return { command: 'read', files: ['a.log'], flags: { idsite: '3', 'matomo-url': 'https://m.example.org/' }, env: {}, cwd: '/', home: '/home/u', ...over }
}

function problemsOf (fn: () => unknown): readonly string[] {
  try {
    fn()
  } catch (err) {
    assert.ok(isForwardError(err), String(err))
    assert.equal((err as ForwardError).code, 'MF_ERR_CONFIG_INVALID')
    assert.equal((err as ForwardError).exitCode, 2)
    return (err as ForwardError).problems
  }
  assert.fail('expected MF_ERR_CONFIG_INVALID')
}

describe('resolveConfig', () => {
  test('applies the defaults of the option table', () => {
    const c = resolveConfig(input())
    assert.equal(c.idsite, 3)
    assert.equal(c.matomoUrl, 'https://m.example.org/matomo.php')
    assert.equal(c.assumeHttps, true)
    assert.equal(c.format, 'auto')
    assert.equal(c.trackingDataKey, 'matomo')
    assert.equal(c.batchSize, 200)
    assert.equal(c.concurrency, 2)
    assert.equal(c.flushIntervalMs, 1000)
    assert.deepEqual(c.excludePath, [])
    assert.equal(c.stateDir, '/home/u/.local/state/matomo-forward')
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.excludePath))
  })

  test('state dir honours XDG_STATE_HOME', () => {
    assert.equal(resolveConfig(input({ env: { XDG_STATE_HOME: '/var/lib/x' } })).stateDir, '/var/lib/x/matomo-forward')
  })

  test('precedence: flags > env > config file > defaults', (t) => {
    const dir = tmpDir(t)
    const file = join(dir, 'c.yaml')
    writeFileSync(file, 'batchSize: 50\nconcurrency: 3\nflushIntervalMs: 200\ntrackingDataKey: fromfile\n')
    const c = resolveConfig(input({
      flags: { config: file, idsite: '3', 'matomo-url': 'https://m.example.org/', 'batch-size': '10' },
      env: { MATOMO_FORWARD_BATCH_SIZE: '20', MATOMO_FORWARD_CONCURRENCY: '4' }
    }))
    assert.equal(c.batchSize, 10)
    assert.equal(c.concurrency, 4)
    assert.equal(c.flushIntervalMs, 200)
    assert.equal(c.trackingDataKey, 'fromfile')
  })

  test('reads JSON config with routeDetails, lists and booleans', (t) => {
    const dir = tmpDir(t)
    const file = join(dir, 'c.json')
    writeFileSync(file, JSON.stringify({ matomoUrl: 'http://m/matomo.php', idsite: 5, excludePath: ['/health'], assumeHttps: false, routeDetails: { '/x': { action_name: 'X' } } }))
    const c = resolveConfig(input({ flags: { config: file } }))
    assert.equal(c.idsite, 5)
    assert.deepEqual(c.excludePath, ['/health'])
    assert.equal(c.assumeHttps, false)
    assert.deepEqual(c.routeDetails, { '/x': { action_name: 'X' } })
  })

  test('env lists are comma-separated or JSON arrays; env booleans are words', () => {
    const c = resolveConfig(input({ env: { MATOMO_FORWARD_EXCLUDE_PATH: '/a, /b', MATOMO_FORWARD_EXCLUDE_PATTERN: '["/x{1,2}"]', MATOMO_FORWARD_ASSUME_HTTPS: 'false', MATOMO_FORWARD_DRY_RUN: 'yes' } }))
    assert.deepEqual(c.excludePath, ['/a', '/b'])
    assert.deepEqual(c.excludePattern, ['/x{1,2}'])
    assert.equal(c.assumeHttps, false)
    assert.equal(c.dryRun, true)
  })

  test('an exclude pattern from the environment or a config string is one pattern, commas and all', (t) => {
    assert.deepEqual(resolveConfig(input({ env: { MATOMO_FORWARD_EXCLUDE_PATTERN: '/a{1,3}$' } })).excludePattern, ['/a{1,3}$'])
    assert.deepEqual(resolveConfig(input({ env: { MATOMO_FORWARD_EXCLUDE_PATTERN: '[ab]/x' } })).excludePattern, ['[ab]/x'], 'a character class first is not a broken JSON array')
    const file = join(tmpDir(t), 'c.yaml')
    writeFileSync(file, 'excludePattern: "/a{1,3}$"\nexcludePath: "/x, /y"\n')
    const c = resolveConfig(input({ flags: { config: file, idsite: '3', 'matomo-url': 'https://m.example.org/' } }))
    assert.deepEqual(c.excludePattern, ['/a{1,3}$'])
    assert.deepEqual(c.excludePath, ['/x', '/y'], 'other lists still split at commas')
  })

  test('token and token file follow the precedence of their layers; only one layer giving both conflicts', (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'token'), 'filetoken\n')
    const cfg = join(dir, 'c.yaml')
    writeFileSync(cfg, `accessTokenFile: ${join(dir, 'token')}\n`)
    assert.equal(resolveConfig(input({ flags: { config: cfg, idsite: '3', 'matomo-url': 'https://m.example.org/' }, env: { MATOMO_FORWARD_ACCESS_TOKEN: 'envtoken' } })).accessToken, 'envtoken', 'env over config')
    assert.equal(resolveConfig(input({ flags: { idsite: '3', 'matomo-url': 'https://m.example.org/', 'access-token-file': join(dir, 'token') }, env: { MATOMO_FORWARD_ACCESS_TOKEN: 'envtoken' } })).accessToken, 'filetoken', 'flag over env')
    const both = problemsOf(() => resolveConfig(input({ env: { MATOMO_FORWARD_ACCESS_TOKEN: 'envtoken', MATOMO_FORWARD_ACCESS_TOKEN_FILE: join(dir, 'token') } })))
    assert.ok(both.some((p) => /Give the token once: environment variable MATOMO_FORWARD_ACCESS_TOKEN_FILE and environment variable MATOMO_FORWARD_ACCESS_TOKEN/.test(p)), both.join('\n'))
    assert.ok(!both.join('\n').includes('envtoken'))
  })

  test('a config key named config says a config file cannot name another', (t) => {
    const cfg = join(tmpDir(t), 'c.yaml')
    writeFileSync(cfg, 'config: other.yaml\n')
    const problems = problemsOf(() => resolveConfig(input({ flags: { config: cfg, idsite: '3', 'matomo-url': 'https://m.example.org/' } })))
    assert.ok(problems.some((p) => p.includes('Unknown key "config"') && p.includes('cannot name another')), problems.join('\n'))
  })

  test('a bad value is reported with the place it came from (config file, environment)', (t) => {
    const cfg = join(tmpDir(t), 'c.yaml')
    writeFileSync(cfg, 'matomoUrl: "ftp://x"\ntimezone: Nowhere/X\nidsite: 1\n')
    const problems = problemsOf(() => resolveConfig(input({ flags: { config: cfg }, env: { MATOMO_FORWARD_EXCLUDE_PATTERN: '(' } })))
    assert.ok(problems.some((p) => p.startsWith('Expected config key matomoUrl in ') && p.includes('http:// or https://')), problems.join('\n'))
    assert.ok(problems.some((p) => p.startsWith('Expected config key timezone in ')), problems.join('\n'))
    assert.ok(problems.some((p) => p.startsWith('environment variable MATOMO_FORWARD_EXCLUDE_PATTERN: "(" is not a valid')), problems.join('\n'))
  })

  test('the token comes from the environment or from the first line of a file', (t) => {
    assert.equal(resolveConfig(input({ env: { MATOMO_FORWARD_ACCESS_TOKEN: 'abc' } })).accessToken, 'abc')
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'token'), 'filetoken\n')
    assert.equal(resolveConfig(input({ flags: { idsite: '1', 'matomo-url': 'http://m/', 'access-token-file': join(dir, 'token') } })).accessToken, 'filetoken')
  })

  test('a token from the environment is trimmed like a token file; a blank one is refused without being shown', () => {
    assert.equal(resolveConfig(input({ env: { MATOMO_FORWARD_ACCESS_TOKEN: 'abc123\n' } })).accessToken, 'abc123')
    const blank = problemsOf(() => resolveConfig(input({ env: { MATOMO_FORWARD_ACCESS_TOKEN: '  \t' } })))
    assert.ok(blank.some((p) => /MATOMO_FORWARD_ACCESS_TOKEN to be a non-empty string, got an empty string \(the value is not shown\)/.test(p)), blank.join('\n'))
  })

  test('a tracking data key with an empty segment and routeDetails keys that can never match are problems', (t) => {
    for (const key of ['.', 'a..b', 'matomo.']) {
      const problems = problemsOf(() => resolveConfig(input({ flags: { idsite: '1', 'dry-run': true, 'tracking-data-key': key } })))
      assert.ok(problems.some((p) => p.includes('--tracking-data-key to be a key or a dotted path')), problems.join('\n'))
    }
    assert.equal(resolveConfig(input({ flags: { idsite: '1', 'dry-run': true, 'tracking-data-key': 'ctx.matomo' } })).trackingDataKey, 'ctx.matomo')
    const file = join(tmpDir(t), 'c.json')
    writeFileSync(file, JSON.stringify({ routeDetails: { '/ok': {}, '/c?q=1': { action_name: 'C' }, health: {} } }))
    const problems = problemsOf(() => resolveConfig(input({ flags: { idsite: '1', 'dry-run': true, config: file } })))
    assert.ok(problems.some((p) => p.includes('"/c?q=1" can never match')), problems.join('\n'))
    assert.ok(problems.some((p) => p.includes('"health" can never match')), problems.join('\n'))
    assert.ok(!problems.some((p) => p.includes('"/ok"')))
    const paths = problemsOf(() => resolveConfig(input({ flags: { idsite: '1', 'dry-run': true, 'exclude-path': ['/health', 'health', '/x?y=1'] } })))
    assert.ok(paths.some((p) => p.includes('"health" can never match')) && paths.some((p) => p.includes('"/x?y=1" can never match')), paths.join('\n'))
    assert.ok(!paths.some((p) => p.includes('"/health"')))
    // Request paths are compared percent-decoded: a path written encoded would never match; a lone % is fine.
    const encoded = problemsOf(() => resolveConfig(input({ flags: { idsite: '1', 'dry-run': true, 'exclude-path': ['/caf%C3%A9', '/100%'] } })))
    assert.ok(encoded.some((p) => p.includes('"/caf%C3%A9" has %-escapes') && p.includes('write "/café"')), encoded.join('\n'))
    assert.ok(!encoded.some((p) => p.includes('"/100%"')), encoded.join('\n'))
  })

  test('--dry-run does not need --matomo-url', () => {
    assert.equal(resolveConfig(input({ flags: { idsite: '1', 'dry-run': true } })).matomoUrl, undefined)
  })

  test('concurrency takes auto', () => {
    assert.equal(resolveConfig(input({ flags: { idsite: '1', 'dry-run': true, concurrency: 'auto' } })).concurrency, 'auto')
  })

  test('status and method dimensions: from flags or env, at least 1, never the same dimension', () => {
    const c = resolveConfig(input({ flags: { idsite: '1', 'dry-run': true, 'status-dimension': '2' }, env: { MATOMO_FORWARD_METHOD_DIMENSION: '5' } }))
    assert.equal(c.statusDimension, 2)
    assert.equal(c.methodDimension, 5)
    assert.equal(resolveConfig(input()).statusDimension, undefined)
    const same = problemsOf(() => resolveConfig(input({ flags: { idsite: '1', 'dry-run': true, 'status-dimension': '4' }, env: { MATOMO_FORWARD_METHOD_DIMENSION: '4' } })))
    assert.ok(same.some((p) => /--status-dimension and environment variable MATOMO_FORWARD_METHOD_DIMENSION both name custom dimension 4/.test(p)), same.join('\n'))
    const zero = problemsOf(() => resolveConfig(input({ flags: { idsite: '1', 'dry-run': true, 'status-dimension': '0' } })))
    assert.ok(zero.some((p) => /--status-dimension to be an integer from 1 to 999, got "0"/.test(p)), zero.join('\n'))
  })

  test('--host must be a host name with an optional port, not a URL', () => {
    assert.equal(resolveConfig(input({ flags: { idsite: '1', 'dry-run': true, host: 'www.example.org:8443' } })).host, 'www.example.org:8443')
    for (const bad of ['https://x.example', 'a b/c', 'x.example/path']) {
      const problems = problemsOf(() => resolveConfig(input({ flags: { idsite: '1', 'dry-run': true, host: bad } })))
      assert.ok(problems.some((p) => p.includes('--host to be a host name') && p.includes(bad)), problems.join('\n'))
    }
  })

  test('reports every problem at once', (t) => {
    const dir = tmpDir(t)
    const config = join(dir, 'c.yaml')
    writeFileSync(config, 'batchSize: many\nbogusKey: 1\nexclude-path: [/x]\n')
    const problems = problemsOf(() => resolveConfig({
      command: 'read',
      files: ['a.log'],
      cwd: dir,
      env: { MATOMO_FORWARD_CONCURRENCY: '0' },
      flags: {
        config,
        idsite: 'abc',
        'matomo-url': 'ftp://m.example.org',
        'exclude-pattern': ['(unclosed'],
        'access-token-file': join(dir, 'missing-token'),
        format: 'apache',
        'no-such-flag': true,
        timezone: 'Mars/Olympus'
      }
    }))
    const text = problems.join('\n')
    for (const needle of ['--idsite', 'ftp://', '(unclosed', 'missing-token', '--format', 'no-such-flag', 'bogusKey', 'did you mean excludePath', 'config key batchSize', 'MATOMO_FORWARD_CONCURRENCY', 'Mars/Olympus']) {
      assert.ok(text.includes(needle), `problems should mention ${needle}:\n${text}`)
    }
    assert.ok(problems.length >= 10, text)
  })

  test('requires --idsite and --matomo-url, naming their env and config names', () => {
    const problems = problemsOf(() => resolveConfig(input({ flags: {} })))
    assert.ok(problems.some((p) => p.includes('--matomo-url is required') && p.includes('MATOMO_FORWARD_MATOMO_URL')))
    assert.ok(problems.some((p) => p.includes('--idsite is required')))
  })

  test('an invalid --idsite is reported once, not also as missing', () => {
    const problems = problemsOf(() => resolveConfig(input({ flags: { idsite: '0', 'matomo-url': 'http://m/' } })))
    assert.equal(problems.filter((p) => p.includes('idsite')).length, 1)
  })

  test('needs at least one input for read', () => {
    assert.ok(problemsOf(() => resolveConfig(input({ files: [] }))).some((p) => p.includes('at least one file')))
  })

  test('an unreadable or invalid config file is a problem, not a crash', (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'bad.json'), '{nope')
    writeFileSync(join(dir, 'list.yaml'), '- a\n- b\n')
    assert.ok(problemsOf(() => resolveConfig(input({ flags: { config: join(dir, 'bad.json') } }))).some((p) => p.includes('not valid JSON')))
    assert.ok(problemsOf(() => resolveConfig(input({ flags: { config: join(dir, 'list.yaml') } }))).some((p) => p.includes('must hold an object')))
    assert.ok(problemsOf(() => resolveConfig(input({ flags: { config: join(dir, 'none.yaml') } }))).some((p) => p.includes('Cannot read config file')))
  })

  test('a config file that does not parse is reported by line and column, never with its text (the token or a password may be on that line)', (t) => {
    const dir = tmpDir(t)
    const secret = 'tok_SECRET_abcdef0123456789'
    const files: Record<string, [string, RegExp]> = {
      'tab.yaml': [`idsite: 1\naccessToken: ${secret} # mine\n\taccessTokenFile: x\n`, /YAML: Tabs are not allowed as indentation at line 3, column 1\.$/],
      'dup.yaml': [`accessToken: ${secret}\naccessToken: ${secret}\n`, /YAML: Map keys must be unique at line 2, column 1\.$/],
      'url.yaml': [`matomoUrl: http://user:${secret}@example.org/\n  bad: [\n`, /not valid YAML: .* at line \d+, column \d+\.$/],
      'bare.json': [`{"idsite": 1, "accessToken": ${secret}}`, /not valid JSON: Unexpected token 'o'\.$/],
      'comma.json': [`{"idsite": 1,\n "accessToken": "${secret}" "x": 1}`, /not valid JSON: Expected ',' or '}' after property value at line 2, column \d+\.$/]
    }
    for (const [name, [text, expected]] of Object.entries(files)) {
      writeFileSync(join(dir, name), text)
      const problems = problemsOf(() => resolveConfig(input({ flags: { config: join(dir, name) } })))
      const problem = problems.find((p) => p.includes('not valid'))
      assert.match(problem ?? '', expected, name)
      assert.ok(!problems.join('\n').includes('SECRET'), `${name}: ${problems.join(' | ')}`)
    }
  })

  test('an exclude pattern that cannot be compiled is a problem naming it; Python\'s verbose (?x) is refused with a reason', () => {
    const problems = problemsOf(() => resolveConfig(input({ flags: { 'exclude-pattern': ['/a(b', '(?x) /a # comment'] } })))
    assert.ok(problems.some((p) => p.includes('"/a(b" is not a valid regular expression')), problems.join(' | '))
    assert.ok(problems.some((p) => p.includes('(?x) /a # comment') && p.includes('verbose patterns')), problems.join(' | '))
    assert.deepEqual(resolveConfig(input({ flags: { idsite: '3', 'matomo-url': 'https://m.example.org/', 'exclude-pattern': ['(?i)/api'] } })).excludePattern, ['(?i)/api'])
  })

  test('routeDetails must map paths to objects; --format fields needs a fields map', (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'c.yaml'), 'routeDetails:\n  /x: Name\n')
    const problems = problemsOf(() => resolveConfig(input({ flags: { config: join(dir, 'c.yaml'), idsite: '1', 'matomo-url': 'http://m/', format: 'fields' } })))
    assert.ok(problems.some((p) => p.includes('routeDetails')))
    assert.ok(problems.some((p) => p.includes('fields map')))
  })

  test('the token is never part of a problem message', () => {
    const problems = problemsOf(() => resolveConfig(input({ flags: { 'access-token': 'SECRET123', 'access-token-file': '/nonexistent', idsite: 'x' }, env: {} })))
    assert.ok(!problems.join('\n').includes('SECRET123'))
  })

  test('a malformed token in a config file is refused without echoing it; a token YAML read as a number is refused, not mangled', (t) => {
    const dir = tmpDir(t)
    const listFile = join(dir, 'list.yaml')
    writeFileSync(listFile, 'accessToken: [SECRETLIST]\nidsite: 1\nmatomoUrl: https://m.example.org/\n')
    const listProblems = problemsOf(() => resolveConfig(input({ flags: { config: listFile }, env: {} })))
    assert.ok(listProblems.some((p) => /accessToken.*got a list \(the value is not shown\)/.test(p)), listProblems.join('\n'))
    assert.ok(!listProblems.join('\n').includes('SECRETLIST'))
    const numberFile = join(dir, 'number.yaml')
    writeFileSync(numberFile, 'accessToken: 12345678901234567890123456789012\nidsite: 1\nmatomoUrl: https://m.example.org/\n')
    const numberProblems = problemsOf(() => resolveConfig(input({ flags: { config: numberFile }, env: {} })))
    assert.ok(numberProblems.some((p) => /accessToken.*quote it in YAML.*got a number/.test(p)), numberProblems.join('\n'))
    assert.ok(!numberProblems.join('\n').includes('1.2345'))
    writeFileSync(numberFile, 'accessToken: "12345678901234567890123456789012"\nidsite: 1\nmatomoUrl: https://m.example.org/\n')
    assert.equal(resolveConfig(input({ flags: { config: numberFile }, env: {} })).accessToken, '12345678901234567890123456789012')
  })
})

describe('normaliseMatomoUrl and redactUrl', () => {
  test('appends matomo.php to a base URL and keeps an explicit endpoint', () => {
    assert.equal(normaliseMatomoUrl('https://m.example.org'), 'https://m.example.org/matomo.php')
    assert.equal(normaliseMatomoUrl('https://m.example.org/analytics/'), 'https://m.example.org/analytics/matomo.php')
    assert.equal(normaliseMatomoUrl('https://m.example.org/piwik.php'), 'https://m.example.org/piwik.php')
    assert.equal(normaliseMatomoUrl('not a url'), undefined)
    assert.equal(normaliseMatomoUrl('file:///etc/passwd'), undefined)
  })
  test('hides the password of basic auth', () => {
    assert.equal(redactUrl('https://u:pw@m.example.org/matomo.php'), 'https://u:***@m.example.org/matomo.php')
    assert.ok(!redactUrl('ftp://u:pw@x y').includes('pw'))
    // URLs that do not parse: the password may hold @ or /, the user name may be empty.
    for (const url of ['http://user:p@ss_SECRET@127.0.0.1:99999/matomo.php', 'http://user:pw/SECRET@127.0.0.1:99999/m.php', 'http://:pw_SECRET@127.0.0.1:99999/m.php', 'user:SECRET@127.0.0.1/matomo.php']) {
      const shown = redactUrl(url)
      assert.ok(!shown.includes('SECRET') && shown.includes('127.0.0.1'), shown)
    }
  })
})
