// What the pipeline hands hits to: the dry-run printer or the Matomo sender.
import type { SourceProgress, Ticket } from '../ack/source-progress.js'
import type { TrackingParams } from '../mapping/tracking-params.js'

export interface Hit {
  readonly params: TrackingParams
  readonly progress: SourceProgress
  readonly ticket: Ticket
  /** 1-based line number in its source, for reports. */
  readonly lineNo: number
  /** The source line as read, for the reject file when Matomo counts the hit invalid. */
  readonly raw?: string
}

export interface HitSink {
  /** Takes a hit; the sink acks `hit.progress` once the hit is done (delivered, or rejected into the reject file). */
  push: (hit: Hit) => void
  /** True while the reader should stop reading (every lane busy, output full). */
  readonly saturated: boolean
  /** Resolves when `saturated` turns false. */
  drained: () => Promise<void>
  /** No more hits: sends what is buffered and resolves when every hit has been answered. */
  end: () => Promise<void>
  /**
   * Sends what is buffered now, without waiting for full batches or their age. Called when the reader is held
   * back by something other than the sink (the durable gate): waiting for the age flush would only stall it.
   */
  flush?: () => void
  /** Rejects with the error that stopped the sink (never resolves): lets a waiting wrapper stop waiting. */
  readonly stopped?: Promise<never>
}
