// --dry-run: one JSON object per hit on stdout, in input order (a hit's params never hold the token: it goes once per bulk body).
import { errors, type ForwardError } from '../errors.js'
import type { Hit, HitSink } from './sink.js'

const FLUSH_CHARS = 64 * 1024

export function createDryRunSink (stdout: NodeJS.WritableStream): HitSink {
  let buffer = ''
  let saturated = false
  let scheduled = false
  /** Standard output failed (EPIPE from `| head`, ENOSPC): the run stops with MF_ERR_OUTPUT_WRITE, never a crash. */
  let failure: ForwardError | undefined
  let rejectStopped: (err: ForwardError) => void = () => undefined
  const stopped = new Promise<never>((_resolve, reject) => { rejectStopped = reject })
  stopped.catch(() => undefined)
  let drainWaiters: Array<(err?: ForwardError) => void> = []
  const wakeDrainWaiters = (err?: ForwardError): void => {
    const waiters = drainWaiters
    drainWaiters = []
    for (const wake of waiters) wake(err)
  }

  stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (failure !== undefined) return
    failure = errors.MF_ERR_OUTPUT_WRITE('standard output', err.code ?? err.message, { cause: err })
    buffer = ''
    rejectStopped(failure)
    wakeDrainWaiters(failure)
  })

  const flush = (): void => {
    scheduled = false
    if (buffer === '' || failure !== undefined) return
    const ok = stdout.write(buffer)
    buffer = ''
    if (!ok) {
      saturated = true
      stdout.once('drain', () => {
        saturated = false
        wakeDrainWaiters()
      })
    }
  }

  const waitDrain = async (): Promise<void> => {
    if (failure !== undefined) throw failure
    if (!saturated) return
    const err = await new Promise<ForwardError | undefined>((resolve) => { drainWaiters.push(resolve) })
    if (err !== undefined) throw err
  }

  return {
    push (hit: Hit): void {
      if (failure !== undefined) return
      buffer += JSON.stringify(hit.params) + '\n'
      hit.progress.ack(hit.ticket)
      if (buffer.length >= FLUSH_CHARS) flush()
      else if (!scheduled) {
        // A quiet stream (tail, a slow pipe) still prints within the same turn of the event loop.
        scheduled = true
        setImmediate(flush)
      }
    },
    get saturated () {
      return saturated || failure !== undefined
    },
    drained: waitDrain,
    stopped,
    // Every hit is acknowledged as it is printed: none is ever waiting for an answer.
    unanswered: 0,
    async end (): Promise<void> {
      flush()
      await waitDrain()
      // A write error of the last chunk is reported on the next turn: wait for the chunk to be handed over.
      if (failure === undefined) await new Promise<void>((resolve) => { stdout.write('', () => { resolve() }) })
      if (failure !== undefined) throw failure
    }
  }
}
