// The lines of a file, one array per 64 KiB chunk: the plain read-and-split loop of the reference scripts.
import { createReadStream } from 'node:fs'
import { Buffer } from 'node:buffer'

/** Yields the non-empty lines of `path` (UTF-8, without their "\n"), one array per chunk read. */
export async function * lineChunks (path) {
  let rest = Buffer.alloc(0)
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) {
    const buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk])
    const lines = []
    let start = 0
    let nl
    while ((nl = buf.indexOf(10, start)) !== -1) {
      if (nl > start) lines.push(buf.toString('utf8', start, nl))
      start = nl + 1
    }
    rest = buf.subarray(start)
    if (lines.length > 0) yield lines
  }
  if (rest.length > 0) yield [rest.toString('utf8')]
}
