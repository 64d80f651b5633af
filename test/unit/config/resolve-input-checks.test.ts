// Start-up checks of the input options: fields map and --trusted-proxy problems come with all the others.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { resolveConfig } from '../../../src/config/resolve.js'
import { isForwardError } from '../../../src/errors.js'
import { FIXTURES } from '../../helpers/run-forward.js'

function problemsOf (flags: Record<string, unknown>): string[] {
  try {
    resolveConfig({ command: 'read', files: ['-'], flags: { 'dry-run': true, idsite: 1, ...flags }, env: {} })
  } catch (err) {
    assert.ok(isForwardError(err))
    assert.equal(err.code, 'MF_ERR_CONFIG_INVALID')
    return [...err.problems]
  }
  return []
}

describe('resolveConfig input checks', () => {
  test('every bad --trusted-proxy value is reported, with the other problems', () => {
    const problems = problemsOf({ 'trusted-proxy': ['10.0.0.0/8', '10.0.0.0/', 'proxy.local'], timezone: 'Mars/Olympus' })
    assert.equal(problems.filter((p) => p.includes('--trusted-proxy')).length, 2)
    assert.ok(problems.some((p) => p.includes('"10.0.0.0/"')))
    assert.ok(problems.some((p) => p.includes('"proxy.local"')))
    assert.ok(problems.some((p) => p.includes('--timezone')))
  })

  test('--timezone takes UTC, offsets and IANA names, and names no zone it cannot resolve', () => {
    for (const timezone of ['UTC', 'Etc/UTC', 'Z', '+02:00', '-0530', 'Europe/Paris', 'America/New_York']) {
      assert.deepEqual(problemsOf({ timezone }), [], timezone)
    }
    for (const timezone of ['Mars/Olympus', 'utc+2', '+2:00', 'UTC+02:00']) {
      assert.ok(problemsOf({ timezone }).some((p) => p.includes('--timezone')), timezone)
    }
  })

  test('a valid fields map resolves into the config', () => {
    const config = resolveConfig({ command: 'read', files: ['-'], flags: { 'dry-run': true, idsite: 1, config: join(FIXTURES, 'config', 'fields.yaml') }, env: {} })
    assert.equal(config.format, 'fields')
    assert.deepEqual(config.fields?.time, { path: 'ts', unit: 'epoch-s' })
  })

  test('every problem of a bad fields map is reported at start', () => {
    const problems = problemsOf({ config: join(FIXTURES, 'config', 'fields-invalid.yaml'), 'trusted-proxy': ['nope'] })
    for (const text of ['unknown entry field "when"', 'fields.path must be a dotted path', 'time.unit must be one of', 'responseTime needs a unit', 'status takes no unit', '--trusted-proxy']) {
      assert.ok(problems.some((p) => p.includes(text)), `${text} in:\n${problems.join('\n')}`)
    }
  })

  test('--format fields without a map', () => {
    assert.ok(problemsOf({ format: 'fields' }).some((p) => p.includes('--format fields needs a fields map')))
  })
})
