// The Matomo sender: hits → per-visitor lanes → bulk batches → retried POSTs → acks, rejects and counts.
import { errors, isForwardError, type ForwardError } from '../errors.js'
import type { Logger } from '../log.js'
import type { RejectWriter } from '../output/reject-file.js'
import type { Summary } from '../summary.js'
import { AUTO_CONCURRENCY_CEILING, createAdaptiveConcurrency, type AdaptiveConcurrency } from './adaptive-concurrency.js'
import { buildBulkBody, bulkOverheadBytes, countItemBytes, createBulkClient, RequestFailure, type BulkClient } from './bulk-request.js'
import { classifyAnswer, classifyFailure, secretForms, type ClassifyContext, type Outcome } from './classify.js'
import { createRetryLogGate, RetryableError, withRetries } from './retry.js'
import type { Config } from '../config/types.js'
import type { Hit, HitSink, SendBudget } from './sink.js'

/** The options the sender reads (a subset of Config, so tests can build one without the CLI). */
export type MatomoSinkConfig = Pick<Config, 'command' | 'matomoUrl' | 'accessToken' | 'caFile' | 'insecure' | 'batchSize' |
'batchMaxBytes' | 'flushIntervalMs' | 'concurrency' | 'requestTimeoutMs' | 'maxRetries' | 'retryMaxDelayMs' | 'shutdownTimeoutMs'>

/** Knobs for tests and benchmarks; production uses the defaults. */
export interface DeliveryTuning {
  /** First backoff step. @default 500 */
  retryBaseDelayMs?: number
  /** Jitter source. @default Math.random */
  random?: () => number
  /** Timers for the age flush (--flush-interval-ms). @default setTimeout / clearTimeout */
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (handle: unknown) => void
  /** Wait between retries (tests record delays instead of sleeping). */
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>
  /** Environment for proxy variables. @default process.env */
  env?: Readonly<Record<string, string | undefined>>
  /** Replaces the adaptive in-flight limiter (tests observe it). */
  concurrency?: AdaptiveConcurrency
}

export interface MatomoSinkOptions {
  config: MatomoSinkConfig
  summary: Summary
  rejects: RejectWriter | undefined
  logger: Logger
  /** Aborted on SIGINT/SIGTERM: buffered hits are still sent, for at most --shutdown-timeout-ms. */
  signal?: AbortSignal | undefined
  /** Replaces the HTTP client (tests). The sink closes it at the end. */
  client?: BulkClient
  tuning?: DeliveryTuning
}

export interface MatomoSink extends HitSink {
  /** Requests in flight allowed right now by the adaptive limit. */
  readonly concurrencyLimit: number
}

/** Stands in for the params of a buffered hit whose source line is kept (the line, not the params, is what a reject record shows). */
const NO_PARAMS: Readonly<Record<string, never>> = Object.freeze({})

/** The group of visitors known by uid (a user agent string cannot start with NUL). */
const UID_GROUP = '\u0000uid'

/** All-invalid answers without indices in a row, from the start of the run, that mean "the token is not accepted". */
const ALL_INVALID_STOP_AFTER = 3

/** A visitor with hits not yet answered, and the lane they all travel in. */
interface Visitor {
  /** Where the visitor is listed: the map of its user agent (or of uids), under its client IP (or uid). */
  readonly group: Map<string, Visitor>
  readonly groupKey: string
  readonly key: string
  readonly lane: Lane
  pending: number
}

interface Batch {
  readonly hits: Hit[]
  /** The visitor of each hit, in order. */
  readonly visitors: Visitor[]
  /** JSON text of each hit's params, in order. */
  readonly items: string[]
  /** With a send budget: the generation (cut of every lane at once) the batch was closed in. */
  gen: number
  /** Bytes of the items plus the commas between them. */
  itemBytes: number
  /** Counted against the send budget (it was sent at least once). */
  taken: boolean
}

interface Lane {
  open: Batch | undefined
  timer: unknown
  /** Closed batches waiting for the batch in flight; FIFO keeps a visitor's hits in order. */
  readonly queue: Batch[]
  busy: boolean
}

export function createMatomoSink (options: MatomoSinkOptions): MatomoSink {
  const { config, summary, rejects, logger } = options
  const tuning = options.tuning ?? {}
  if (config.matomoUrl === undefined) throw new TypeError('createMatomoSink needs config.matomoUrl')
  const client = options.client ?? createBulkClient({
    matomoUrl: config.matomoUrl,
    timeoutMs: config.requestTimeoutMs,
    caFile: config.caFile,
    insecure: config.insecure,
    env: tuning.env
  })
  const token = config.accessToken
  const tokenJson = token === undefined ? undefined : JSON.stringify(token)
  const overhead = bulkOverheadBytes(tokenJson)
  const classifyContext: ClassifyContext = { display: client.endpoint.display, secrets: secretForms(token, client.endpoint.credentials) }
  const ceiling = config.concurrency === 'auto' ? AUTO_CONCURRENCY_CEILING : config.concurrency
  const concurrency: AdaptiveConcurrency = tuning.concurrency ?? createAdaptiveConcurrency(ceiling)
  const laneCount = ceiling
  const lanes: Lane[] = Array.from({ length: laneCount }, () => ({ open: undefined, timer: undefined, queue: [], busy: false }))
  /** Visitors with hits pending; a visitor is forgotten once all its hits are answered. */
  const visitors = new Map<string, Map<string, Visitor>>()
  let nextLane = 0
  /**
   * Lanes that take new visitors. With --concurrency auto, one more than the current limit: a generation then
   * holds about one round of requests (16 lanes with a limit near 3 ended every generation with a round that
   * was not full), and one request waits for a slot, which is what lets the limit grow. A fixed --concurrency
   * uses every lane: its limit only ramps up at the start, and generations formed during the ramp would stay
   * small long after it (measured: c=16 from 77 % to 50 % of the ideal).
   */
  const activeLanes = config.concurrency === 'auto'
    ? () => Math.min(laneCount, concurrency.limit + 1)
    : () => laneCount
  const highWater = laneCount * config.batchSize * 2
  const setTimer = tuning.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms))
  const clearTimer = tuning.clearTimer ?? ((handle: unknown) => { clearTimeout(handle as NodeJS.Timeout) })
  const retryLogGate = createRetryLogGate()
  const tail = config.command === 'tail'

  let maxBytes = config.batchMaxBytes
  /** Hits pushed and not yet answered (open, queued or in flight). */
  let buffered = 0
  let failure: ForwardError | undefined
  /** Aborted on the first failure: no new attempts, no waits (requests in flight still complete). */
  const stopRetries = new AbortController()
  /** Aborted when the shutdown timeout passes: requests in flight are cut off too. */
  const stopRequests = new AbortController()
  let drainWaiters: Array<{ resolve: () => void, reject: (err: unknown) => void }> = []
  let idleWaiters: Array<() => void> = []
  let warnedNoIndices = false
  let rejectFailed: (error: ForwardError) => void = () => undefined
  const failed = new Promise<never>((_resolve, reject) => { rejectFailed = reject })
  failed.catch(() => undefined)
  /** Until a batch tracks something, all-invalid answers without indices are held unacknowledged here. */
  let tokenProven = false
  const heldAllInvalid: Batch[] = []
  /** The duplicate bound (set by the durable gate when checkpoints are kept); without it, lanes send freely. */
  let budget: SendBudget | undefined
  /** Generation of the batches being filled; every lane's open batch is closed when one of them is. */
  let gen = 0

  const onAbort = (): void => {
    // The run itself gave up (checkpoint writes keep failing): nothing sent from now on could be checkpointed,
    // so it would only be sent again by the next run. Stop at once; requests in flight still complete.
    const reason: unknown = options.signal?.reason
    if (isForwardError(reason)) {
      fail(reason)
      return
    }
    const timer = setTimeout(() => {
      if (buffered > 0) fail(errors.MF_ERR_SINK_STOPPED(buffered, `--shutdown-timeout-ms ${config.shutdownTimeoutMs} passed after the stop signal; they were not acknowledged and are sent again on the next run`))
      stopRequests.abort(new Error('shutdown timeout'))
    }, config.shutdownTimeoutMs)
    timer.unref()
  }
  if (options.signal?.aborted === true) onAbort()
  else options.signal?.addEventListener('abort', onAbort, { once: true })

  function fail (error: ForwardError): void {
    if (failure !== undefined) return
    failure = error
    rejectFailed(error)
    stopRetries.abort(error)
    for (const lane of lanes) {
      if (lane.timer !== undefined) clearTimer(lane.timer)
      lane.timer = undefined
    }
    const waiters = drainWaiters
    drainWaiters = []
    for (const w of waiters) w.reject(error)
    checkIdle()
  }

  /**
   * One visitor, one lane: uid when the app knows the user, else client IP + user agent (Matomo's own
   * fingerprint; without a token there is no cip and the UA alone is the key). A visitor with hits pending stays
   * in their lane, so Matomo gets their hits in order; a visitor with none pending goes to the least loaded lane,
   * which keeps lanes evenly filled (full batches, full generations) whatever the mix of visitors.
   */
  function visitorOf (hit: Hit): Visitor {
    const p = hit.params
    // Two levels, user agent then IP: the same few user agents repeat, and no long key is built per hit.
    const groupKey = p.uid !== undefined ? UID_GROUP : String(p.ua ?? '')
    const key = p.uid !== undefined ? String(p.uid) : String(p.cip ?? '')
    let group = visitors.get(groupKey)
    if (group === undefined) {
      group = new Map()
      visitors.set(groupKey, group)
    }
    let visitor = group.get(key)
    if (visitor === undefined) {
      // Least loaded = fewest hits in the batch being filled: batches of all lanes fill together.
      const active = activeLanes()
      const first = nextLane % active
      let lane = lanes[first] as Lane
      let load = lane.open?.hits.length ?? 0
      for (let i = 1; i < active && load > 0; i++) {
        const other = lanes[(first + i) % active] as Lane
        const otherLoad = other.open?.hits.length ?? 0
        if (otherLoad < load) {
          lane = other
          load = otherLoad
        }
      }
      nextLane = first + 1 === active ? 0 : first + 1
      visitor = { group, groupKey, key, lane, pending: 0 }
      group.set(key, visitor)
    }
    visitor.pending++
    return visitor
  }

  /**
   * The age flush (--flush-interval-ms) is for quiet inputs. While closed batches still wait to be sent (a slow
   * Matomo, the reader held back by back pressure), closing this one would not send it sooner, only smaller:
   * it keeps filling and the timer is set again.
   */
  function armAgeFlush (lane: Lane, batch: Batch): void {
    lane.timer = setTimer(() => {
      lane.timer = undefined
      if (lane.open !== batch || failure !== undefined) return
      const waiting = budget === undefined ? lane.queue.length > 0 : lanes.some((l) => l.queue.some((b) => !b.taken))
      if (waiting) armAgeFlush(lane, batch)
      else close(lane)
    }, config.flushIntervalMs)
  }

  function close (lane: Lane): void {
    if (budget === undefined) {
      if (detach(lane)) schedule(lane)
      return
    }
    let any = false
    for (const other of lanes) any = detach(other) || any
    gen++
    if (any) dispatch(budget)
  }

  /** Every lane's open batch goes (the end of the input, or a caller that waits for every answer). */
  function closeAll (): void {
    for (const lane of lanes) close(lane)
  }

  /** Moves the lane's open batch to its queue; false when it had none. */
  function detach (lane: Lane): boolean {
    const batch = lane.open
    if (batch === undefined) return false
    lane.open = undefined
    if (lane.timer !== undefined) {
      clearTimer(lane.timer)
      lane.timer = undefined
    }
    batch.gen = gen
    lane.queue.push(batch)
    return true
  }

  function schedule (lane: Lane): void {
    if (budget === undefined) pump(lane)
    else dispatch(budget)
  }

  function pump (lane: Lane): void {
    if (lane.busy || failure !== undefined) return
    const batch = lane.queue.shift()
    if (batch !== undefined) start(lane, batch)
  }

  function start (lane: Lane, batch: Batch): void {
    lane.busy = true
    void deliver(lane, batch).finally(() => {
      lane.busy = false
      // Before scheduling: the next generation usually waits for the write this lets happen.
      if (sink.inFlight === 0) sink.onQuiet?.()
      schedule(lane)
      checkIdle()
    })
  }

  /**
   * With a send budget, batches form generations: when one lane's batch closes (full, too big, or old), every
   * lane's open batch closes with it, so a generation holds every hit pushed between two cuts, at most one batch
   * per lane: at most lanes × batch size = the budget's limit. A batch goes when its lane is free, every batch of
   * older generations was sent, and the budget has room. No deadlock: when nothing is in flight, every older
   * generation was sent and acknowledged, so the checkpoint covers all of it, only the oldest unsent generation's
   * own sent batches are counted, and any of its batches fits (they are all within one generation's limit).
   */
  function dispatch (b: SendBudget): void {
    if (failure !== undefined) return
    let oldestGen = Number.POSITIVE_INFINITY
    for (const lane of lanes) {
      for (const batch of lane.queue) {
        if (!batch.taken) {
          if (batch.gen < oldestGen) oldestGen = batch.gen
          break
        }
      }
    }
    let blocked = false
    for (const lane of lanes) {
      const batch = lane.queue[0]
      if (lane.busy || batch === undefined) continue
      if (!batch.taken) {
        if (batch.gen > oldestGen || batch.hits.length > b.room()) {
          blocked = true
          continue
        }
        b.take(batch.hits)
        batch.taken = true
      }
      lane.queue.shift()
      start(lane, batch)
    }
    // Answered but never acknowledged (all invalid with an unproven token) is the one thing room cannot come back from.
    if (blocked && heldAllInvalid.length > 0 && !lanes.some((lane) => lane.busy)) fail(tokenError())
  }

  /** The batch was answered (acknowledged, or held as all invalid): its hits no longer wait. */
  function settle (batch: Batch): void {
    for (const visitor of batch.visitors) {
      if (--visitor.pending === 0) {
        visitor.group.delete(visitor.key)
        if (visitor.group.size === 0) visitors.delete(visitor.groupKey)
      }
    }
    buffered -= batch.hits.length
    if (buffered <= highWater && drainWaiters.length > 0) {
      const waiters = drainWaiters
      drainWaiters = []
      for (const w of waiters) w.resolve()
    }
  }

  function checkIdle (): void {
    if (idleWaiters.length === 0) return
    for (const lane of lanes) {
      if (lane.busy) return
      if (failure === undefined && (lane.queue.length > 0 || lane.open !== undefined)) return
    }
    const waiters = idleWaiters
    idleWaiters = []
    for (const w of waiters) w()
  }

  async function deliver (lane: Lane, batch: Batch): Promise<void> {
    let outcome: Outcome
    try {
      outcome = await send(batch)
    } catch (err) {
      if (err instanceof RetryableError) {
        fail(errors.MF_ERR_SINK_GAVE_UP(config.maxRetries + 1, `${err.message} (${describeRange(batch.hits)}; nothing of it was acknowledged, a new run sends it again)`))
      } else if (isForwardError(err)) {
        fail(err)
      } else if (failure === undefined) {
        fail(errors.MF_ERR_SINK_STOPPED(batch.hits.length, (err as Error).message, { cause: err }))
      }
      return
    }
    handle(lane, batch, outcome)
  }

  async function send (batch: Batch): Promise<Outcome> {
    const body = buildBulkBody(batch.items, tokenJson, batch.itemBytes)
    const sent = batch.hits.length
    return await withRetries(async (attempt) => {
      if (attempt > 1) summary.retries++
      let outcome: Outcome
      let rttMs = 0
      let demand = false
      try {
        const timed = await concurrency.run(async (queued) => {
          // After a stop nothing new goes out (delivery.md; to a Matomo refusing the token, every request is one more
          // failed login). A slot is freed as soon as an answer arrives, before that answer is judged: a request that
          // waited for one looks at the outcome one event-loop turn later, when the answer's handling is done.
          if (queued) await new Promise<void>((resolve) => { setImmediate(resolve) })
          if (failure !== undefined) throw failure
          return await client.sendBulk(body, stopRequests.signal)
        })
        rttMs = timed.rttMs
        demand = timed.demand
        outcome = classifyAnswer(timed.value, sent, classifyContext)
      } catch (err) {
        if (!(err instanceof RequestFailure)) throw err
        if (err.kind === 'aborted') throw errors.MF_ERR_SINK_STOPPED(buffered, 'requests in flight were cut off at the shutdown timeout')
        outcome = classifyFailure(err, classifyContext)
      }
      if (outcome.kind === 'retry') {
        // Lower the number in flight before the retry: 500s and timeouts are how a busy Matomo says "less".
        concurrency.overloaded()
        throw new RetryableError(outcome.reason, outcome.message, outcome.retryAfterMs)
      }
      if (outcome.kind === 'delivered') concurrency.succeeded(rttMs, demand)
      return outcome
    }, {
      retries: tail ? Number.POSITIVE_INFINITY : config.maxRetries,
      baseDelayMs: tuning.retryBaseDelayMs,
      maxDelayMs: config.retryMaxDelayMs,
      random: tuning.random,
      sleep: tuning.sleep,
      signal: stopRetries.signal,
      onRetry (info) {
        if (!retryLogGate(info)) return
        logger.warn({ attempt: info.attempt, reason: info.reason, delayMs: info.delayMs, concurrency: concurrency.limit },
          `bulk request of ${sent} hits failed (${info.message}); retry ${info.attempt}${Number.isFinite(info.retriesLeft) ? ` of ${config.maxRetries}` : ''} in ${info.delayMs} ms (${describeRange(batch.hits)})`)
      }
    })
  }

  function handle (lane: Lane, batch: Batch, outcome: Outcome): void {
    const hits = batch.hits
    switch (outcome.kind) {
      case 'delivered': {
        summary.batches++
        summary.hitsSent += hits.length
        summary.hitsTracked += outcome.tracked
        summary.hitsInvalid += outcome.invalid
        if (outcome.invalid > 0 && outcome.invalidIndices !== undefined) {
          for (const index of outcome.invalidIndices) writeInvalid(hits[index]!)
        } else if (outcome.invalid > 0) {
          if (outcome.tracked === 0 && !tokenProven) {
            // Every hit invalid and no indices: the classic sign of a token Matomo does not accept (issues
            // #326, #369 of matomo-log-analytics). Hold the acks, so that a run after fixing the token resends.
            heldAllInvalid.push(batch)
            settle(batch)
            if (heldAllInvalid.length >= ALL_INVALID_STOP_AFTER) fail(tokenError())
            return
          }
          warnNoIndices()
        }
        if (outcome.tracked > 0 && !tokenProven) releaseHeld()
        for (const hit of hits) hit.progress.ack(hit.ticket)
        settle(batch)
        return
      }
      case 'unaccounted': {
        summary.batches++
        summary.hitsSent += hits.length
        summary.hitsTracked += outcome.tracked
        summary.hitsInvalid += outcome.invalid
        summary.hitsUnaccounted += outcome.missing
        settle(batch) // answered (and counted above), though not acknowledged
        fail(errors.MF_ERR_SINK_UNACCOUNTED(
          `${describeRange(hits)}: ${hits.length} sent, ${outcome.tracked} tracked, ${outcome.invalid} invalid, ${outcome.missing} unaccounted`,
          'Matomo skipped some (database lock wait timeouts under concurrent load, or tracking disabled with record_statistics=0). ' +
          'These lines were not acknowledged: a new run sends the batch again, which may record the tracked ones twice. Lower --concurrency (1 is safest)'))
        return
      }
      case 'split': {
        if (hits.length === 1) {
          fail(errors.MF_ERR_SINK_REFUSED(client.endpoint.display, `${outcome.message}; a single hit (${describeRange(hits)}) is too large. Raise the web server's body limit (nginx client_max_body_size)`))
          return
        }
        const bodyBytes = overhead + batch.itemBytes
        const lowered = Math.max(1024, Math.floor(bodyBytes / 2))
        if (lowered < maxBytes) {
          maxBytes = lowered
          logger.warn({ batchMaxBytes: maxBytes }, `${outcome.message}; sending smaller batches of at most ${maxBytes} bytes from now on (lower --batch-max-bytes to avoid this)`)
        }
        const half = Math.ceil(hits.length / 2)
        // Both halves go before anything else in the lane, first half first: order is kept.
        lane.queue.unshift(slice(batch, 0, half), slice(batch, half, hits.length))
        return
      }
      case 'fatal':
        // Which lines: the error is about Matomo or the setup, but the user may want to look at the batch.
        if (failure === undefined) logger.error({ code: outcome.error.code }, `the batch that stopped the run holds ${describeRange(hits)}`)
        fail(outcome.error)
        return
      case 'retry':
        // withRetries turns every retry outcome into another attempt or a RetryableError.
        throw new Error('unreachable: retry outcome after retries')
    }
  }

  function writeInvalid (hit: Hit): void {
    rejects?.write({
      reason: 'matomo_invalid',
      message: 'Matomo counted this hit invalid (unknown site, a parameter it refused, or cip / a cdt older than 24 h without a token with write access)',
      source: hit.progress.name,
      line: hit.lineNo,
      offset: hit.ticket.start,
      raw: hit.raw ?? redactedParams(hit)
    })
  }

  function redactedParams (hit: Hit): string {
    return JSON.stringify({ ...hit.params, ...(hit.params.token_auth === undefined ? {} : { token_auth: '<redacted>' }) })
  }

  function warnNoIndices (): void {
    if (warnedNoIndices) return
    warnedNoIndices = true
    logger.warn('Matomo counted some hits invalid without saying which: it lists invalid hits (invalid_indices) only for a super user\'s token, so these lines cannot be written to the reject file. They are counted as invalid in the summary; use a super user\'s token to identify them.')
  }

  function releaseHeld (): void {
    tokenProven = true
    if (heldAllInvalid.length === 0) return
    warnNoIndices()
    for (const batch of heldAllInvalid.splice(0)) {
      for (const hit of batch.hits) hit.progress.ack(hit.ticket)
    }
  }

  function tokenError (): ForwardError {
    const reason = token === undefined
      ? 'without a token, this usually means that --idsite names no site of this Matomo, or that Matomo requires authentication for tracking'
      : 'the token is not accepted for tracking: it may be expired or deleted (app tokens can have an expiry date), restricted to secure (POST/HTTPS) requests on a plain HTTP URL, or belong to a user without write access to this site; or --idsite names no site'
    return errors.MF_ERR_SINK_AUTH(`Matomo counted every hit invalid (tracked 0) in ${heldAllInvalid.length} batch${heldAllInvalid.length === 1 ? '' : 'es'}: ${reason}. Run \`matomo-forward check\` to test the token. Nothing of these batches was acknowledged; a new run sends them again.`)
  }

  const sink: MatomoSink = {
    push (hit: Hit): void {
      if (failure !== undefined) return // never acknowledged: the reader stops at drained(), the checkpoint stays
      const item = JSON.stringify(hit.params)
      const bytes = Buffer.byteLength(item)
      const visitor = visitorOf(hit)
      const lane = visitor.lane
      let batch = lane.open
      if (batch !== undefined && overhead + batch.itemBytes + 1 + bytes > maxBytes) {
        close(lane)
        batch = undefined
      }
      if (batch === undefined) {
        batch = { hits: [], visitors: [], items: [], itemBytes: 0, taken: false, gen }
        lane.open = batch
        armAgeFlush(lane, batch)
      }
      batch.itemBytes += batch.items.length === 0 ? bytes : bytes + 1
      // The batch keeps what acks and reject records need; the params (now JSON text) can die young. At high
      // concurrency a hit waits a whole request time in memory: this halves what the buffered hits hold.
      batch.hits.push(hit.raw === undefined ? hit : { params: NO_PARAMS, progress: hit.progress, ticket: hit.ticket, lineNo: hit.lineNo, raw: hit.raw })
      batch.visitors.push(visitor)
      batch.items.push(item)
      buffered++
      if (batch.hits.length >= config.batchSize) close(lane)
    },
    get saturated () {
      return failure !== undefined || buffered > highWater
    },
    async drained (): Promise<void> {
      if (failure !== undefined) throw failure
      if (buffered <= highWater) return
      await new Promise<void>((resolve, reject) => { drainWaiters.push({ resolve, reject }) })
    },
    stopped: failed,
    flush (): void {
      // A caller waits for every hit pushed so far to be answered (a copy of a file read earlier in the run):
      // the open batches go now, not at their age flush.
      if (failure === undefined) closeAll()
    },
    get unanswered () {
      return buffered
    },
    get inFlight () {
      let busy = 0
      for (const lane of lanes) if (lane.busy) busy++
      return busy
    },
    onQuiet: undefined,
    useBudget (b: SendBudget): void {
      budget = b
      b.onRelease = () => { dispatch(b) }
    },
    async end (): Promise<void> {
      closeAll()
      await new Promise<void>((resolve) => {
        idleWaiters.push(resolve)
        checkIdle()
      })
      options.signal?.removeEventListener('abort', onAbort)
      if (failure === undefined && heldAllInvalid.length > 0) fail(tokenError())
      await client.close().catch(() => undefined)
      if (failure !== undefined) throw failure
    },
    get concurrencyLimit () {
      return concurrency.limit
    }
  }
  return sink
}

function slice (batch: Batch, from: number, to: number): Batch {
  const items = batch.items.slice(from, to)
  return { hits: batch.hits.slice(from, to), visitors: batch.visitors.slice(from, to), items, itemBytes: countItemBytes(items), taken: batch.taken, gen: batch.gen }
}

/**
 * "access.log lines 120-319", or "access.log: 200 lines from 1 to 1593" when the batch's lines are not all the
 * lines of that range (lanes interleave visitors), per source for a batch that spans files.
 */
export function describeRange (hits: readonly Hit[]): string {
  const ranges = new Map<string, { first: number, last: number, count: number }>()
  for (const hit of hits) {
    const name = hit.progress.name === '-' ? 'standard input' : hit.progress.name
    const r = ranges.get(name)
    if (r === undefined) ranges.set(name, { first: hit.lineNo, last: hit.lineNo, count: 1 })
    else {
      r.count++
      if (hit.lineNo < r.first) r.first = hit.lineNo
      if (hit.lineNo > r.last) r.last = hit.lineNo
    }
  }
  return [...ranges].map(([name, r]) => r.first === r.last
    ? `${name} line ${r.first}`
    : r.count === r.last - r.first + 1 ? `${name} lines ${r.first}-${r.last}` : `${name}: ${r.count} lines from ${r.first} to ${r.last}`).join(', ')
}
