// --dry-run: one JSON object per hit on stdout, in input order, with the token redacted.
import { once } from 'node:events'
import type { Hit, HitSink } from './sink.js'

const FLUSH_CHARS = 64 * 1024

export function createDryRunSink (stdout: NodeJS.WritableStream): HitSink {
  let buffer = ''
  let saturated = false
  let scheduled = false

  const flush = (): void => {
    scheduled = false
    if (buffer === '') return
    const ok = stdout.write(buffer)
    buffer = ''
    if (!ok) {
      saturated = true
      stdout.once('drain', () => { saturated = false })
    }
  }

  return {
    push (hit: Hit): void {
      const params = hit.params
      if (params.token_auth !== undefined) params.token_auth = '<redacted>'
      buffer += JSON.stringify(params) + '\n'
      hit.progress.ack(hit.ticket)
      if (buffer.length >= FLUSH_CHARS) flush()
      else if (!scheduled) {
        // A quiet stream (tail, a slow pipe) still prints within the same turn of the event loop.
        scheduled = true
        setImmediate(flush)
      }
    },
    get saturated () {
      return saturated
    },
    async drained (): Promise<void> {
      if (saturated) await once(stdout, 'drain')
    },
    async end (): Promise<void> {
      flush()
      if (saturated) await once(stdout, 'drain')
    }
  }
}
