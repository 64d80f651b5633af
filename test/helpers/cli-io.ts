// In-memory stdio for running the CLI's main() in-process.
import { PassThrough, Readable } from 'node:stream'
import type { CliIo } from '../../src/cli/main.js'

export interface CapturedIo extends CliIo {
  out: () => string
  err: () => string
}

export function captureIo (options: { stdin?: string, env?: Record<string, string>, cwd?: string } = {}): CapturedIo {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (c: Buffer) => { out += c.toString() })
  stderr.on('data', (c: Buffer) => { err += c.toString() })
  return {
    stdin: Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]),
    stdout,
    stderr,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    out: () => out,
    err: () => err
  }
}
