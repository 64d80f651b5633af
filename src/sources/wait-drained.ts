// Back pressure: waits until the sink takes hits again, or the run is aborted (a stuck sink must not block shutdown).
import type { HitSink } from '../sink/sink.js'

export async function waitDrained (sink: HitSink, signal: AbortSignal | undefined): Promise<void> {
  if (!sink.saturated) return
  if (signal === undefined) {
    await sink.drained()
    return
  }
  if (signal.aborted) return
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { resolve() }
    signal.addEventListener('abort', onAbort, { once: true })
    sink.drained().then(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, (err: unknown) => {
      signal.removeEventListener('abort', onAbort)
      reject(err as Error)
    })
  })
}
