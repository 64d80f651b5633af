// Hands a chunk to the line splitter, line by line when asked, so back pressure stops reading between two lines.
import type { HitSink } from '../sink/sink.js'
import type { LineSplitter } from './split-lines.js'
import { waitDrained } from './wait-drained.js'

const LF = 0x0a

/**
 * With `lineByLine`, the sink's saturation is checked after every line, so the number of hits handed out
 * never exceeds its limit by more than the lines a format detection releases at once (the duplicate bound
 * depends on it). Without, the whole chunk is pushed and the check is left to the caller. Resolves false when
 * aborted part-way (the rest of the chunk was not pushed).
 */
export async function feedLines (splitter: LineSplitter, chunk: Buffer, sink: HitSink, signal: AbortSignal | undefined, lineByLine: boolean): Promise<boolean> {
  if (!lineByLine) {
    splitter.push(chunk)
    return true
  }
  const length = chunk.length
  let pos = 0
  while (pos < length) {
    if (sink.saturated) {
      await waitDrained(sink, signal)
      if (signal?.aborted === true) return false
    }
    const nl = chunk.indexOf(LF, pos)
    const end = nl === -1 ? length : nl + 1
    splitter.push(pos === 0 && end === length ? chunk : chunk.subarray(pos, end))
    pos = end
  }
  return true
}
