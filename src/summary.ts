// Run counters and the end-of-run report; every line read ends up in exactly one of hits, filtered, rejected or held at exit.

export interface SummaryJson {
  lines_read_total: number
  bytes_read_total: number
  hits_total: number
  filtered_total: number
  filtered_by_reason: Record<string, number>
  rejected_total: number
  rejected_by_reason: Record<string, number>
  hits_sent_total: number
  hits_tracked_total: number
  hits_invalid_total: number
  hits_unaccounted_total: number
  hits_pending_at_exit_total: number
  lines_held_at_exit_total: number
  /** read: streams (standard input, pipes) a signal stopped before their end; what followed was never read. */
  streams_stopped_early: string[]
  batches_total: number
  retries_total: number
  duration_seconds: number
  lines_per_second: number
}

export class Summary {
  linesRead = 0
  bytesRead = 0
  hits = 0
  readonly filtered = new Map<string, number>()
  readonly rejected = new Map<string, number>()
  /** Hits in bulk requests Matomo answered (each hit counted once, retries excluded). */
  hitsSent = 0
  hitsTracked = 0
  hitsInvalid = 0
  /** Hits Matomo neither tracked nor counted invalid (tracked + invalid < sent). */
  hitsUnaccounted = 0
  batches = 0
  retries = 0
  /** Hits Matomo never answered when the run ended (stopped, given up, cut off): not checkpointed, sent again by the next run. */
  hitsPendingAtExit = 0
  /**
   * Lines read but not yet classified when the run stopped (a signal, or an error elsewhere): held while the
   * format was being detected, or the first piece of an unfinished container line. Their checkpoint stays
   * before them: the next run reads them again.
   */
  linesHeldAtExit = 0
  /** `read`: standard input or pipes a signal stopped before their end (they cannot be resumed). */
  readonly streamsStoppedEarly: string[] = []
  private readonly startedAt: number

  constructor (now: number = performance.now()) {
    this.startedAt = now
  }

  filter (reason: string): void {
    this.filtered.set(reason, (this.filtered.get(reason) ?? 0) + 1)
  }

  reject (reason: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1)
  }

  get filteredTotal (): number {
    return sum(this.filtered)
  }

  get rejectedTotal (): number {
    return sum(this.rejected)
  }

  toJSON (now: number = performance.now()): SummaryJson {
    const seconds = Math.max(0, (now - this.startedAt) / 1000)
    return {
      lines_read_total: this.linesRead,
      bytes_read_total: this.bytesRead,
      hits_total: this.hits,
      filtered_total: this.filteredTotal,
      filtered_by_reason: Object.fromEntries([...this.filtered].sort()),
      rejected_total: this.rejectedTotal,
      rejected_by_reason: Object.fromEntries([...this.rejected].sort()),
      hits_sent_total: this.hitsSent,
      hits_tracked_total: this.hitsTracked,
      hits_invalid_total: this.hitsInvalid,
      hits_unaccounted_total: this.hitsUnaccounted,
      hits_pending_at_exit_total: this.hitsPendingAtExit,
      lines_held_at_exit_total: this.linesHeldAtExit,
      streams_stopped_early: [...this.streamsStoppedEarly],
      batches_total: this.batches,
      retries_total: this.retries,
      duration_seconds: round(seconds, 3),
      lines_per_second: seconds > 0 ? Math.round(this.linesRead / seconds) : 0
    }
  }

  /** Human-readable report for stderr. */
  format (options: { dryRun: boolean }, now?: number): string {
    const s = this.toJSON(now)
    const lines = [
      `matomo-forward summary${options.dryRun ? ' (dry run: nothing sent)' : ''}`,
      `  lines read   ${s.lines_read_total}`,
      `  hits         ${s.hits_total}`,
      `  filtered     ${s.filtered_total}${byReason(s.filtered_by_reason)}`,
      `  rejected     ${s.rejected_total}${byReason(s.rejected_by_reason)}`
    ]
    if (s.lines_held_at_exit_total > 0) lines.push(`  held         ${s.lines_held_at_exit_total} (stopped before they could be classified; read again next run)`)
    for (const name of s.streams_stopped_early) lines.push(`  stopped      ${name} before its end: a stream cannot be resumed, the lines after those read are not sent by any run`)
    if (!options.dryRun) {
      lines.push(
        `  sent         ${s.hits_sent_total} in ${s.batches_total} batches (${s.retries_total} retries)`,
        `  tracked      ${s.hits_tracked_total}`,
        `  invalid      ${s.hits_invalid_total}`,
        `  unaccounted  ${s.hits_unaccounted_total}`
      )
      if (s.hits_pending_at_exit_total > 0) lines.push(`  unanswered   ${s.hits_pending_at_exit_total} (not answered by Matomo when the run stopped, sent or not yet; sent again next run)`)
    }
    lines.push(`  duration     ${s.duration_seconds.toFixed(2)} s (${s.lines_per_second} lines/s)`)
    return lines.join('\n') + '\n'
  }
}

function sum (map: ReadonlyMap<string, number>): number {
  let total = 0
  for (const n of map.values()) total += n
  return total
}

function byReason (counts: Record<string, number>): string {
  const entries = Object.entries(counts)
  return entries.length === 0 ? '' : '  (' + entries.map(([k, v]) => `${k}: ${v}`).join(', ') + ')'
}

function round (value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
