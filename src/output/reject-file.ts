// The reject file: one NDJSON record per rejected line (reason, source, line, offset, raw line).
import { createWriteStream, fsync, type WriteStream } from 'node:fs'
import { dirname } from 'node:path'
import { once } from 'node:events'
import { errors } from '../errors.js'
import { makeDirs } from './make-dirs.js'
import { checkWritable } from './writable-path.js'

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
  /**
   * Resolves once every record written so far is on disk (fsync). A checkpoint that covers rejected lines is
   * written only after this, so a crash cannot lose a rejected line: it is in the file or read again.
   */
  flush: () => Promise<void>
  /** Flushes and closes; rejects with MF_ERR_OUTPUT_WRITE if any write failed. */
  close: () => Promise<void>
}

/**
 * Opens lazily: no file is created for a run without rejects. Whether it could be written is checked at once
 * (MF_ERR_OUTPUT_WRITE before any input is read), not found out at the first bad line.
 */
export function createRejectWriter (path: string): RejectWriter {
  checkWritable(path)
  let stream: WriteStream | undefined
  let failure: Error | undefined
  /** Records written since the last flush. */
  let unflushed = false
  const open = (): WriteStream => {
    makeDirs(dirname(path))
    // Owner only, as the checkpoints: the records hold raw log lines (client IPs, user agents, URLs).
    const s = createWriteStream(path, { flags: 'a', mode: 0o600 })
    // The first error is the cause (EACCES, ENOSPC); later writes only add "stream destroyed".
    s.on('error', (err) => { failure ??= err })
    return s
  }
  return {
    write (record) {
      try {
        stream ??= open()
      } catch (err) {
        // Its directory went away during the run: the reject file's problem, not the input's.
        throw errors.MF_ERR_OUTPUT_WRITE(path, (err as Error).message, { cause: err })
      }
      stream.write(JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n')
      unflushed = true
    },
    async flush () {
      const s = stream
      if (s === undefined || !unflushed) return
      unflushed = false
      // Writes complete in order: when this empty write's callback runs, every earlier record is written.
      await new Promise<void>((resolve, reject) => {
        s.write('', (err) => { if (err == null) resolve(); else reject(err) })
      }).then(async () => {
        const fd = (s as unknown as { fd: number | null }).fd
        if (typeof fd === 'number') await new Promise<void>((resolve, reject) => { fsync(fd, (err) => { if (err === null) resolve(); else reject(err) }) })
      }).catch((err: unknown) => {
        unflushed = true
        failure ??= err as Error
        throw errors.MF_ERR_OUTPUT_WRITE(path, (err as Error).message, { cause: err })
      })
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
