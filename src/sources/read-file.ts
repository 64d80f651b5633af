// Opens an input for one-shot reading: a plain or gzip file (detected by magic bytes, not name), or stdin.
import { createReadStream } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { createGunzip } from 'node:zlib'
import type { Readable } from 'node:stream'
import { errors } from '../errors.js'

const READ_CHUNK_BYTES = 32 * 1024

export async function isGzipFile (path: string): Promise<boolean> {
  const handle = await open(path, 'r')
  try {
    const head = Buffer.alloc(2)
    const { bytesRead } = await handle.read(head, 0, 2, 0)
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b
  } finally {
    await handle.close()
  }
}

/**
 * A stream of the file's bytes from `startOffset`. For gzip files offsets count decompressed bytes, so the
 * stream is decompressed from the start and the first `startOffset` bytes are skipped.
 */
export async function openFile (path: string, startOffset = 0): Promise<Readable> {
  let gzip: boolean
  try {
    gzip = await isGzipFile(path)
  } catch (err) {
    throw errors.MF_ERR_SOURCE_UNREADABLE(path, (err as NodeJS.ErrnoException).code ?? (err as Error).message, { cause: err })
  }
  if (!gzip) return createReadStream(path, { start: startOffset, highWaterMark: READ_CHUNK_BYTES })
  const raw = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES })
  const gunzip = createGunzip({ chunkSize: READ_CHUNK_BYTES })
  raw.on('error', (err) => gunzip.destroy(err))
  raw.pipe(gunzip)
  return startOffset === 0 ? gunzip : skipBytes(gunzip, startOffset)
}

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

function skipBytes (source: Readable, count: number): Readable {
  // Readable.from keeps back pressure through the generator.
  return (source.constructor as typeof Readable).from(skipBytesGen(source, count), { objectMode: false })
}
