// Streams an input for one-shot reading: an open plain or gzip file (gzip told by magic bytes, not name), or stdin.
import type { FileHandle } from 'node:fs/promises'
import { createGunzip } from 'node:zlib'
import { PassThrough, pipeline, Readable } from 'node:stream'

const READ_CHUNK_BYTES = 32 * 1024

/**
 * A stream of an open file's content from `startOffset` up to `endOffset` (exclusive; plain files only: a
 * `read` takes the file as it was when opened, and later lines are for the next run). The handle stays open.
 */
export function streamFromHandle (handle: FileHandle, gzip: boolean, startOffset: number, endOffset?: number): Readable {
  if (!gzip) {
    return handle.createReadStream({ start: startOffset, end: endOffset === undefined ? undefined : endOffset - 1, highWaterMark: READ_CHUNK_BYTES, autoClose: false })
  }
  const raw = handle.createReadStream({ start: 0, highWaterMark: READ_CHUNK_BYTES, autoClose: false })
  const gunzip = createGunzip({ chunkSize: READ_CHUNK_BYTES })
  raw.on('error', (err) => gunzip.destroy(err))
  gunzip.on('close', () => raw.destroy())
  raw.pipe(gunzip)
  return startOffset === 0 ? gunzip : skipBytes(gunzip, startOffset)
}

async function * skipBytesGen (source: Readable, count: number): AsyncGenerator<Buffer> {
  let toSkip = count
  for await (const chunk of source as AsyncIterable<Buffer>) {
    if (toSkip >= chunk.length) {
      toSkip -= chunk.length
      continue
    }
    yield toSkip === 0 ? chunk : chunk.subarray(toSkip)
    toSkip = 0
  }
}

/**
 * Whether a gzip file's decompressed content is at least `bytes` long: false when a file resumed by its inode
 * was rewritten shorter (a skip past its end would read nothing, silently). Decompresses up to there. A damaged
 * file counts as long enough: reading it reports the damage.
 */
export async function gzipContentReaches (handle: FileHandle, bytes: number): Promise<boolean> {
  // Positional reads of our own: destroying a FileHandle's read stream early would close the handle itself.
  const raw = Readable.from(readChunks(handle), { objectMode: false })
  const gunzip = createGunzip({ chunkSize: READ_CHUNK_BYTES })
  raw.on('error', (err) => gunzip.destroy(err))
  raw.pipe(gunzip)
  let seen = 0
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      seen += chunk.length
      if (seen >= bytes) return true
    }
    return false
  } catch {
    return true
  } finally {
    raw.destroy()
    gunzip.destroy()
  }
}

async function * readChunks (handle: FileHandle): AsyncGenerator<Buffer> {
  for (let position = 0; ;) {
    const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES)
    const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK_BYTES, position)
    if (bytesRead === 0) return
    position += bytesRead
    yield buffer.subarray(0, bytesRead)
  }
}

function skipBytes (source: Readable, count: number): Readable {
  // Readable.from keeps back pressure through the generator.
  return (source.constructor as typeof Readable).from(skipBytesGen(source, count), { objectMode: false })
}

/**
 * A stream with no identity (standard input, a named pipe), decompressed when its first bytes are gzip's magic:
 * `cat access.log.2.gz | matomo-forward read -` works like naming the file. Back pressure is kept (pipeline).
 * Destroying the result (an abort) destroys the source at once, even while the pipe is idle: an async
 * generator here could not be stopped before the next chunk arrived, and a stop signal hung on a quiet pipe.
 */
export function gunzipIfCompressed (source: Readable): Readable {
  const out = new PassThrough()
  out.once('close', () => { source.destroy() })
  let head = Buffer.alloc(0)
  const onData = (chunk: Buffer | string): void => {
    head = Buffer.concat([head, typeof chunk === 'string' ? Buffer.from(chunk) : chunk])
    if (head.length < 2) return
    stopSniffing()
    source.pause()
    const done = (): void => undefined // errors reach the consumer through `out`, which pipeline destroys
    if (head[0] === 0x1f && head[1] === 0x8b) {
      const gunzip = createGunzip({ chunkSize: READ_CHUNK_BYTES })
      gunzip.write(head)
      pipeline(source, gunzip, out, done)
    } else {
      out.write(head)
      pipeline(source, out, done)
    }
  }
  const onEnd = (): void => {
    stopSniffing()
    out.end(head)
  }
  const onError = (err: Error): void => {
    stopSniffing()
    out.destroy(err)
  }
  const stopSniffing = (): void => {
    source.off('data', onData)
    source.off('end', onEnd)
    source.off('error', onError)
  }
  source.on('data', onData)
  source.once('end', onEnd)
  source.once('error', onError)
  return out
}
