// docs/errors.md and src/errors.ts list the same codes with the same exit codes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { errors, ForwardError, isForwardError } from '../../src/errors.js'

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
const rows = new Map([...doc.matchAll(/^\| `(MF_ERR_[A-Z_]+)` \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]))

test('every error code has a row in docs/errors.md with its exit code', () => {
  for (const [code, factory] of Object.entries(errors)) {
    assert.equal(rows.get(code), factory.exitCode, `docs/errors.md row for ${code}`)
  }
})

test('docs/errors.md names no code that does not exist', () => {
  for (const code of rows.keys()) assert.ok(code !== undefined && code in errors, `${code} is documented but not in src/errors.ts`)
})

test('factories format the message, keep the cause and the problems', () => {
  const cause = new Error('ENOENT')
  const err = errors.MF_ERR_SOURCE_UNREADABLE('/var/log/x.log', 'ENOENT', { cause })
  assert.ok(isForwardError(err))
  assert.ok(err instanceof ForwardError)
  assert.equal(err.code, 'MF_ERR_SOURCE_UNREADABLE')
  assert.equal(err.message, 'cannot read /var/log/x.log: ENOENT')
  assert.equal(err.cause, cause)
  assert.equal(String(err), 'ForwardError [MF_ERR_SOURCE_UNREADABLE]: cannot read /var/log/x.log: ENOENT')
  const invalid = errors.MF_ERR_CONFIG_INVALID('  - a\n  - b', { problems: ['a', 'b'] })
  assert.deepEqual(invalid.problems, ['a', 'b'])
  assert.equal(invalid.exitCode, 2)
  assert.equal(isForwardError(new Error('x')), false)
})
