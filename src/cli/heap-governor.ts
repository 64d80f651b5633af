// Keeps the process's V8 heap close to what is live: a full collection when garbage has piled up past a budget.
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** Heap in use below which nothing is done (start-up and code alone take about 10 MiB). */
export const HEAP_FLOOR_BYTES = 16 * 1024 * 1024
const CHECK_INTERVAL_MS = 200

export interface HeapGovernor {
  /** Full collections it forced so far. */
  readonly collections: number
  stop: () => void
}

/**
 * V8 lets the old generation grow to several times the live data before it collects, and a sender holding
 * hits for a slow Matomo promotes them all: at --concurrency 16 the heap reached 90 MiB for 22 MiB live
 * (bench/README.md). Node cannot lower its heap limits once started, so the CLI collects itself: when the heap
 * in use passes the larger of the floor and twice what the last collection left, it runs one full collection
 * (a few ms for this heap size, at most once per check). Returns undefined where `gc` cannot be exposed.
 */
export function startHeapGovernor (floorBytes = HEAP_FLOOR_BYTES): HeapGovernor | undefined {
  let gc: (() => void) | undefined
  try {
    setFlagsFromString('--expose-gc')
    // The young generation otherwise doubles up to 2 × 16 MiB under a steady allocation rate: that much RSS
    // for garbage. Read at each resize, so it applies at run time (the size limits themselves do not).
    setFlagsFromString('--semi-space-growth-factor=1')
    gc = runInNewContext('gc') as (() => void) | undefined
  } catch {
    gc = undefined
  }
  if (typeof gc !== 'function') return undefined
  const collect = gc
  let threshold = floorBytes
  let collections = 0
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
    stop () {
      clearInterval(timer)
    }
  }
}
