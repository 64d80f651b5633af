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

/**
 * A stream with no identity (standard input, a named pipe), decompressed when its first bytes are gzip's magic:
 * `cat access.log.2.gz | matomo-forward read -` works like naming the file. Back pressure is kept; destroying
 * the result (an abort) destroys the source at once, so an idle pipe does not keep the process alive.
 */
export function gunzipIfCompressed (source: Readable): Readable {
  const out = (source.constructor as typeof Readable).from(sniffGzip(source), { objectMode: false })
  out.once('close', () => { source.destroy() })
  return out
}

const asBuffer = (chunk: Buffer | string): Buffer => typeof chunk === 'string' ? Buffer.from(chunk) : chunk

async function * sniffGzip (source: Readable): AsyncGenerator<Buffer> {
  const chunks = (source as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]()
  let head = Buffer.alloc(0)
  while (head.length < 2) {
    const next = await chunks.next()
    if (next.done === true) break
    head = Buffer.concat([head, asBuffer(next.value)])
  }
  if (head.length < 2 || head[0] !== 0x1f || head[1] !== 0x8b) {
    if (head.length > 0) yield head
    for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) yield asBuffer(next.value)
    return
  }
  const gunzip = createGunzip({ chunkSize: READ_CHUNK_BYTES })
  /** Resolves when gunzip takes more input, or is gone (then feeding stops). */
  const writable = async (): Promise<void> => await new Promise<void>((resolve) => {
    const done = (): void => {
      gunzip.off('drain', done)
      gunzip.off('close', done)
      resolve()
    }
    gunzip.on('drain', done)
    gunzip.on('close', done)
  })
  const feed = (async (): Promise<void> => {
    try {
      if (!gunzip.write(head)) await writable()
      for (let next = await chunks.next(); next.done !== true && !gunzip.destroyed; next = await chunks.next()) {
        if (!gunzip.write(asBuffer(next.value))) await writable()
      }
      gunzip.end()
    } catch (err) {
      gunzip.destroy(err as Error)
    }
  })()
  try {
    yield * (gunzip as AsyncIterable<Buffer>)
  } finally {
    gunzip.destroy()
    source.destroy()
    await feed
  }
}
