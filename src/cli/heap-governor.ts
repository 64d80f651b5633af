// Keeps the process's V8 heap close to what is live: a full collection when garbage has piled up past a budget.
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** Heap in use below which nothing is done (start-up and code alone take about 10 MiB). */
export const HEAP_FLOOR_BYTES = 16 * 1024 * 1024
/** The young generation stops growing once this big (V8 would double it up to 2 × 16 MiB; at 8 MiB GC took 14 % of a 500k-line run instead of 10 %). */
export const YOUNG_CAP_BYTES = 16 * 1024 * 1024
const CHECK_INTERVAL_MS = 200
/** The young generation doubles within a few hundred ms under load: checked often until capped. */
const YOUNG_CHECK_INTERVAL_MS = 20

export interface HeapGovernor {
  /** Full collections it forced so far. */
  readonly collections: number
  /** Whether the young generation reached YOUNG_CAP_BYTES and was told to stop growing. */
  readonly youngCapped: boolean
  stop: () => void
}

/**
 * V8 lets the old generation grow to several times the live data before it collects, and a sender holding
 * hits for a slow Matomo promotes them all: at --concurrency 16 the heap reached 90 MiB for 22 MiB live
 * (bench/README.md). Node cannot lower its heap limits once started, so the CLI collects itself: when the heap
 * in use passes the larger of the floor and twice what the last collection left, it runs one full collection
 * (a few ms for this heap size, at most once per check). Returns undefined where `gc` cannot be exposed.
 */
export function startHeapGovernor (floorBytes = HEAP_FLOOR_BYTES, youngCapBytes = YOUNG_CAP_BYTES): HeapGovernor | undefined {
  let gc: (() => void) | undefined
  try {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as (() => void) | undefined
  } catch {
    gc = undefined
  }
  if (typeof gc !== 'function') return undefined
  const collect = gc
  let threshold = floorBytes
  let collections = 0
  let youngCapped = false
  // Under a steady allocation rate V8 doubles the young generation up to 2 × 16 MiB: that much RSS for
  // garbage. Its size limits are fixed at start, but the growth factor is read at each resize: set to 1 once
  // the young generation is big enough (at 1 from the start, scavenges promote too much: +25 % CPU measured).
  // Measured on Node 20 (V8 11.3). Some later V8 versions declare a minimum of 2 for this flag: there the cap
  // is silently ineffective (the flag exists, so no "unrecognized flag" line), and only the RSS is higher.
  const youngTimer = setInterval(() => {
    if (newSpaceBytes() < youngCapBytes) return
    setFlagsFromString('--semi-space-growth-factor=1')
    youngCapped = true
    clearInterval(youngTimer)
  }, YOUNG_CHECK_INTERVAL_MS)
  youngTimer.unref()
  const timer = setInterval(() => {
    if (getHeapStatistics().used_heap_size <= threshold) return
    collect()
    collections++
    threshold = Math.max(floorBytes, 2 * getHeapStatistics().used_heap_size)
  }, CHECK_INTERVAL_MS)
  timer.unref()
  return {
    get collections () {
      return collections
    },
    get youngCapped () {
      return youngCapped
    },
    stop () {
      clearInterval(timer)
      clearInterval(youngTimer)
    }
  }
}

function newSpaceBytes (): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0
}
