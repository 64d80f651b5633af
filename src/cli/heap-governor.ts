// Keeps the process's V8 heap close to what is live: a full collection when garbage has piled up past a budget.
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** Heap in use below which nothing is done (start-up and code alone take about 10 MiB). */
export const HEAP_FLOOR_BYTES = 16 * 1024 * 1024
/** The young generation stops growing once this big (V8 would double it up to 2 × 16 MiB; at 8 MiB GC took 14 % of a 500k-line run instead of 10 %). */
export const YOUNG_CAP_BYTES = 16 * 1024 * 1024
/** Garbage allowed on top of the live heap before a forced collection while the process is CPU-bound... */
export const BUSY_HEAP_FACTOR = 2
/**
 * ...and while it mostly waits (a slow Matomo, a quiet tail): the extra collections then cost no throughput
 * (at --concurrency 16 against 250 ms answers the process uses about a quarter of a core).
 */
export const IDLE_HEAP_FACTOR = 1.25
/** Above this share of one core (smoothed over about a second), the process counts as busy. */
const BUSY_CPU_SHARE = 0.5
const CPU_SMOOTHING = 0.3
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
 * in use passes the larger of the floor and a multiple of what the last collection left (collectionThreshold),
 * it runs one full collection (a few ms for this heap size, at most once per check). Returns undefined where
 * `gc` cannot be exposed.
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
  /** What the last forced collection left (undefined before the first). */
  let liveBytes: number | undefined
  /** Share of one core used, smoothed; starts busy (start-up and a backfill are CPU-bound). */
  let cpuShare = 1
  let lastCpu = process.cpuUsage()
  let lastWall = performance.now()
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
    const cpu = process.cpuUsage()
    const wall = performance.now()
    const share = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000 / Math.max(1, wall - lastWall)
    cpuShare += CPU_SMOOTHING * (share - cpuShare)
    lastCpu = cpu
    lastWall = wall
    if (getHeapStatistics().used_heap_size <= collectionThreshold(liveBytes, cpuShare, floorBytes)) return
    collect()
    collections++
    liveBytes = getHeapStatistics().used_heap_size
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

/**
 * Heap in use past which the governor collects: the floor, or a multiple of what the last collection left,
 * twice while CPU-bound (collections then cost throughput), 1.25 times while mostly waiting.
 */
export function collectionThreshold (liveBytes: number | undefined, cpuShare: number, floorBytes: number): number {
  if (liveBytes === undefined) return floorBytes
  return Math.max(floorBytes, (cpuShare > BUSY_CPU_SHARE ? BUSY_HEAP_FACTOR : IDLE_HEAP_FACTOR) * liveBytes)
}

function newSpaceBytes (): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0
}
