// Input expansion: globs, literal paths, stdin, rotated sets oldest first, patterns that match nothing.
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { compareRotation, compilePatterns, describeUnmatched, expandInputs } from '../../../src/sources/expand-inputs.js'
import { tmpDir } from '../../helpers/tmp.js'

describe('compareRotation', () => {
  test('orders a numbered rotated set oldest first, the live file last', () => {
    const names = ['access.log', 'access.log.1', 'access.log.10.gz', 'access.log.2.gz', 'access.log.3.gz'].map((n) => `/l/${n}`)
    assert.deepEqual(names.sort(compareRotation).map((p) => p.slice(3)), ['access.log.10.gz', 'access.log.3.gz', 'access.log.2.gz', 'access.log.1', 'access.log'])
  })

  test('orders dated suffixes ascending, and separate sets by name', () => {
    const names = ['b.log', 'a.log', 'a.log-20240102', 'a.log-20240101.gz', 'b.log.1']
    assert.deepEqual(names.sort(compareRotation), ['a.log-20240101.gz', 'a.log-20240102', 'a.log', 'b.log.1', 'b.log'])
  })
})

describe('expandInputs', () => {
  test('expands globs in rotation order, keeps arguments in the order given, reads each file once', async (t) => {
    const dir = tmpDir(t)
    for (const name of ['access.log', 'access.log.1', 'access.log.2.gz', 'other.log']) writeFileSync(join(dir, name), '')
    const result = await expandInputs(['other.log', 'access.log*', '-', join(dir, 'other.log')], dir)
    assert.deepEqual(result.inputs, [join(dir, 'other.log'), join(dir, 'access.log.2.gz'), join(dir, 'access.log.1'), join(dir, 'access.log'), '-'])
    assert.deepEqual(result.unmatched, [])
  })

  test('reports every argument that matches nothing', async (t) => {
    const dir = tmpDir(t)
    mkdirSync(join(dir, 'sub'))
    const result = await expandInputs(['missing.log', 'nothing-*.log', 'sub'], dir)
    assert.deepEqual(result.unmatched, ['missing.log', 'nothing-*.log', 'sub'])
  })

  test('an unmatched directory is described with a hint', async (t) => {
    const dir = tmpDir(t)
    mkdirSync(join(dir, 'sub'))
    assert.equal(await describeUnmatched('sub', dir), 'sub (a directory: name its files, e.g. sub/*.log)')
    assert.equal(await describeUnmatched('missing.log', dir), 'missing.log')
  })

  test('takes a file whose name looks like a glob literally', async (t) => {
    const dir = tmpDir(t)
    writeFileSync(join(dir, 'access[1].log'), '')
    const result = await expandInputs(['access[1].log'], dir)
    assert.deepEqual(result.inputs, [join(dir, 'access[1].log')])
  })
})

describe('compilePatterns', () => {
  test('gives the base directory to watch and a matcher', () => {
    const [glob, literal] = compilePatterns(['logs/*.log', '/var/log/app.log', '-'], '/srv')
    assert.equal(glob?.base, '/srv/logs')
    assert.equal(glob?.deep, false)
    assert.equal(glob?.matches('/srv/logs/a.log'), true)
    assert.equal(glob?.matches('/srv/logs/a.log.1'), false)
    assert.equal(literal?.isGlob, false)
    assert.equal(literal?.matches('/var/log/app.log'), true)
    assert.equal(compilePatterns(['/srv/**/x.log'], '/')[0]?.deep, true)
  })
})
