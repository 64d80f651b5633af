// The reject file: one NDJSON record per rejected line (reason, source, line, offset, raw line).
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import { dirname } from 'node:path'
import { once } from 'node:events'
import { errors } from '../errors.js'

export interface RejectRecord {
  reason: string
  message: string
  source: string
  line: number
  offset: number
  raw: string
}

export interface RejectWriter {
  write: (record: RejectRecord) => void
  /** Flushes and closes; rejects with MF_ERR_OUTPUT_WRITE if any write failed. */
  close: () => Promise<void>
}

/** Opens lazily: no file is created for a run without rejects. */
export function createRejectWriter (path: string): RejectWriter {
  let stream: WriteStream | undefined
  let failure: Error | undefined
  const open = (): WriteStream => {
    mkdirSync(dirname(path), { recursive: true })
    const s = createWriteStream(path, { flags: 'a' })
    s.on('error', (err) => { failure = err })
    return s
  }
  return {
    write (record) {
      stream ??= open()
      stream.write(JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n')
    },
    async close () {
      if (stream !== undefined) {
        const s = stream
        stream = undefined
        s.end()
        if (!s.closed && failure === undefined) await once(s, 'close').catch(() => undefined)
      }
      if (failure !== undefined) throw errors.MF_ERR_OUTPUT_WRITE(path, failure.message, { cause: failure })
    }
  }
}
