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
  /**
   * Present on a sink that schedules its own requests: it then asks `budget` before each request (the duplicate
   * bound, counted on sent hits only) instead of the gate counting every pushed hit.
   */
  useBudget?: (budget: SendBudget) => void
  /** Requests in flight now (a sink that sends). */
  readonly inFlight?: number
  /**
   * Hits taken and not answered by Matomo yet (a sink that sends): the summary's "unanswered" at exit. Hits
   * answered but not acknowledged (unaccounted, held as all invalid) are counted in tracked/invalid instead.
   */
  readonly unanswered?: number | undefined
  /** Set by the pipeline: called when the last request in flight was answered. */
  onQuiet?: (() => void) | undefined
}

/**
 * Hits that may be sent and not yet be covered by a checkpoint on disk (the duplicate bound). The sender sends a
 * batch only if its size is at most `room()`, and then calls `take` with its hits; it must schedule so that room
 * always comes back (see the Matomo sink's generations).
 */
export interface SendBudget {
  room: () => number
  take: (hits: readonly Hit[]) => void
  /** Set by the sender: called when room was freed. */
  onRelease: (() => void) | undefined
}
