// The public API: importing it has no side effects, and it runs the same pipeline as the CLI.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PassThrough, Readable } from 'node:stream'
import { forward, resolveConfig, createMapper, errors, VERSION } from '../../src/index.js'
import { createLogger } from '../../src/log.js'

test('forward() runs a dry run from a resolved config, in-process', async () => {
  const config = resolveConfig({ command: 'read', files: ['-'], flags: { 'dry-run': true, idsite: '9', host: 'svc.internal', format: 'pino-http' }, env: {} })
  const stdout = new PassThrough()
  let out = ''
  stdout.on('data', (c: Buffer) => { out += c.toString() })
  const line = JSON.stringify({ time: 1764064801000, req: { method: 'GET', url: '/ping' }, res: { statusCode: 204 } })
  const summary = await forward({ config, logger: createLogger('silent'), stdin: Readable.from([Buffer.from(line + '\n')]), stdout })
  assert.equal(summary.hits, 1)
  assert.equal((JSON.parse(out) as { url: string }).url, 'https://svc.internal/ping')
  assert.equal(typeof createMapper, 'function')
  assert.equal(typeof errors.MF_ERR_CONFIG_INVALID, 'function')
  assert.match(VERSION, /^\d+\.\d+\.\d+/)
})
