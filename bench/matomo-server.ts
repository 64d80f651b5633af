// A fake Matomo for the benchmarks, in its own process: bulk tracking endpoint, the Reporting API calls import_logs.py makes, GET /stats.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { pathToFileURL } from 'node:url'

export type ServerMode = 'instant' | 'latency' | 'saturating'

export interface FakeMatomoOptions {
  mode: ServerMode
  /** latency: time per bulk request, ms. */
  latencyMs: number
  /** saturating: work per hit, ms, shared by the requests in flight (processor sharing). */
  perHitMs: number
  /** saturating: fixed time per request that is not shared (PHP bootstrap, network), ms. */
  overheadMs: number
  /** saturating: a request that sees more than this many requests in flight fails with 500, its hits rolled back. */
  failAbove: number
}

export interface ServerStats {
  mode: ServerMode
  /** Every HTTP request, including API calls and /stats. */
  httpRequests: number
  bulkRequests: number
  apiCalls: number
  /** Hits in bulk requests answered 200 (what Matomo would have stored). */
  hits: number
  /** Hits in bulk requests answered 500 (rolled back). */
  hitsRolledBack: number
  failedRequests: number
  maxInFlight: number
  connections: number
  /** Epoch ms of the first bulk request's arrival and the last bulk answer, for throughput windows. */
  firstArrivalMs: number | undefined
  lastResponseMs: number | undefined
  /** write→arrival delays (ms) of hits whose URL carries bench_w=<epoch ms>. */
  delays: { count: number, p50Ms: number | undefined, p99Ms: number | undefined, maxMs: number | undefined }
  cpuUserS: number
  cpuSystemS: number
}

const BENCH_WRITE_TIME = /[?&]bench_w=(\d+)/

const SITE = { idsite: '1', name: 'bench', main_url: 'https://www.example.org', timezone: 'UTC', currency: 'USD', ecommerce: '0', sitesearch: '1' }

/** Reporting API answers: import_logs.py calls getSiteFromId with --idsite, the others without it or for checks. */
const API_ANSWERS: Readonly<Record<string, unknown>> = {
  'SitesManager.getSiteFromId': SITE,
  'SitesManager.getAllSites': [SITE],
  'SitesManager.getSitesIdFromSiteUrl': [{ idsite: '1' }],
  'SitesManager.getSitesIdWithAtLeastViewAccess': [1],
  'SitesManager.getSitesIdWithAdminAccess': [1],
  'UsersManager.hasSuperUserAccess': { value: true },
  'API.getMatomoVersion': { value: '5.1.2' }
}

export function createFakeMatomo (options: FakeMatomoOptions): { server: ReturnType<typeof createServer>, stats: () => ServerStats, reset: () => void } {
  let httpRequests = 0
  let bulkRequests = 0
  let apiCalls = 0
  let hits = 0
  let hitsRolledBack = 0
  let failedRequests = 0
  const active = new Set<{ peak: number }>()
  let maxInFlight = 0
  let connections = 0
  let firstArrivalMs: number | undefined
  let lastResponseMs: number | undefined
  let delays: number[] = []
  let cpuBase = process.cpuUsage()

  const reset = (): void => {
    httpRequests = bulkRequests = apiCalls = hits = hitsRolledBack = failedRequests = maxInFlight = connections = 0
    firstArrivalMs = lastResponseMs = undefined
    delays = []
    cpuBase = process.cpuUsage()
  }

  const stats = (): ServerStats => {
    const sorted = Float64Array.from(delays).sort()
    const q = (p: number): number | undefined => sorted.length === 0 ? undefined : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]
    const cpu = process.cpuUsage(cpuBase)
    return {
      mode: options.mode,
      httpRequests,
      bulkRequests,
      apiCalls,
      hits,
      hitsRolledBack,
      failedRequests,
      maxInFlight,
      connections,
      firstArrivalMs,
      lastResponseMs,
      delays: { count: sorted.length, p50Ms: q(0.5), p99Ms: q(0.99), maxMs: sorted.length === 0 ? undefined : sorted[sorted.length - 1] },
      cpuUserS: cpu.user / 1e6,
      cpuSystemS: cpu.system / 1e6
    }
  }

  const shared = createProcessorSharing()

  const answer = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }

  /** `arrival`: when the request's headers came in (epoch ms). */
  const handleBulk = (res: ServerResponse, body: string, arrival: number): void => {
    firstArrivalMs ??= arrival
    bulkRequests++
    let items: unknown[]
    try {
      const parsed = JSON.parse(body) as { requests?: unknown }
      if (!Array.isArray(parsed.requests)) throw new Error('no requests array')
      items = parsed.requests
    } catch {
      // What Matomo answers to a body it does not recognise as bulk (matomo-tracking-api.md §3 case 20).
      res.writeHead(400, { 'content-type': 'text/html' })
      res.end('This resource is part of Matomo.')
      return
    }
    for (const item of items) {
      const url = typeof item === 'string' ? item : (item as { url?: unknown }).url
      if (typeof url === 'string') {
        const m = BENCH_WRITE_TIME.exec(url)
        if (m !== null) delays.push(arrival - Number(m[1]))
      }
    }
    // Each request remembers the most requests it shared the server with (itself included).
    const self = { peak: 0 }
    active.add(self)
    for (const a of active) if (a.peak < active.size) a.peak = active.size
    if (active.size > maxInFlight) maxInFlight = active.size
    const done = (): void => {
      active.delete(self)
      lastResponseMs = Date.now()
      if (options.mode === 'saturating' && self.peak > options.failAbove) {
        // Matomo's transactional bulk: a deadlock rolls the whole batch back and answers 500.
        failedRequests++
        hitsRolledBack += items.length
        answer(res, 500, { status: 'error', tracked: 0, invalid: 0 })
        return
      }
      hits += items.length
      answer(res, 200, { status: 'success', tracked: items.length, invalid: 0 })
    }
    if (options.mode === 'instant') done()
    // Counted from the request's arrival, as a client sees it: reading and parsing the body (one request after
    // another in this single process) is part of the 250 ms, not added to it.
    else if (options.mode === 'latency') setTimeout(done, Math.max(0, options.latencyMs - (Date.now() - arrival)))
    else setTimeout(() => { shared.submit(items.length * options.perHitMs, done) }, options.overheadMs)
  }

  const handleApi = (res: ServerResponse, params: URLSearchParams): void => {
    apiCalls++
    const method = params.get('method') ?? ''
    const answerOf = API_ANSWERS[method]
    if (answerOf !== undefined) { answer(res, 200, answerOf); return }
    answer(res, 200, { result: 'error', message: `The method '${method}' is not known to the bench server.` })
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    httpRequests++
    const arrival = Date.now()
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let url: URL
      try {
        url = new URL(req.url ?? '/', 'http://127.0.0.1')
      } catch {
        // A target that is no URL path ("//", as import_logs.py asks for with a --url ending in "/"): a bad request, not a crash.
        res.writeHead(400, { 'content-type': 'text/plain' })
        res.end('bad request target')
        return
      }
      if (req.method === 'GET' && url.pathname === '/stats') { answer(res, 200, stats()); return }
      if (req.method === 'POST' && url.pathname === '/reset') { reset(); answer(res, 200, { ok: true }); return }
      const params = new URLSearchParams(url.search)
      if (req.method === 'POST' && (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        for (const [k, v] of new URLSearchParams(body)) params.set(k, v)
      }
      if (params.get('module') === 'API') { handleApi(res, params); return }
      if (url.pathname.endsWith('/matomo.php') || url.pathname.endsWith('/piwik.php')) {
        // Bulk mode is recognised by the body alone, as in Matomo (plugins/BulkTracking).
        if (req.method === 'POST' && body.includes('"requests"')) {
          // With a latency, the body is parsed after this turn of the event loop: requests that arrived together
          // are all stamped before any is parsed, as a server with parallel workers would see them.
          if (options.mode === 'latency') setImmediate(() => { handleBulk(res, body, arrival) })
          else handleBulk(res, body, arrival)
          return
        }
        // A single tracking request or an empty POST: 400 like Matomo for an empty/invalid one, GIF otherwise.
        if (params.has('idsite') && params.has('rec')) {
          hits++
          res.writeHead(204)
          res.end()
          return
        }
        res.writeHead(400, { 'content-type': 'text/html' })
        res.end('This resource is part of Matomo.')
        return
      }
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found')
    })
  })
  server.on('connection', () => { connections++ })
  server.keepAliveTimeout = 30_000
  return { server, stats, reset }
}

interface Job { remaining: number, done: () => void }

/**
 * Processor sharing: k jobs in progress each advance at 1/k of real time, so a Matomo with one
 * CPU's worth of PHP+MySQL gives the same total hits/s however many requests share it.
 */
function createProcessorSharing (): { submit: (workMs: number, done: () => void) => void } {
  const jobs = new Set<Job>()
  let last = performance.now()
  let timer: NodeJS.Timeout | undefined

  const advance = (): void => {
    const now = performance.now()
    const k = jobs.size
    if (k > 0) {
      const progress = (now - last) / k
      for (const job of jobs) job.remaining -= progress
    }
    last = now
  }

  const schedule = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (jobs.size === 0) return
    let min = Infinity
    for (const job of jobs) if (job.remaining < min) min = job.remaining
    timer = setTimeout(tick, Math.max(0, min * jobs.size))
  }

  const tick = (): void => {
    advance()
    for (const job of jobs) {
      if (job.remaining <= 0.01) {
        jobs.delete(job)
        job.done()
      }
    }
    schedule()
  }

  return {
    submit (workMs, done) {
      advance()
      jobs.add({ remaining: workMs, done })
      schedule()
    }
  }
}

/** Command-line options of the server process; unknown modes throw. */
export function parseServerArgs (args: readonly string[]): FakeMatomoOptions {
  const get = (name: string, fallback: string): string => {
    const i = args.indexOf(`--${name}`)
    return i === -1 ? fallback : (args[i + 1] ?? fallback)
  }
  const mode = get('mode', 'instant') as ServerMode
  if (!['instant', 'latency', 'saturating'].includes(mode)) throw new Error(`--mode must be instant, latency or saturating, not ${mode}`)
  return {
    mode,
    latencyMs: Number(get('latency-ms', '250')),
    perHitMs: Number(get('per-hit-ms', '1')),
    overheadMs: Number(get('overhead-ms', '25')),
    failAbove: Number(get('fail-above', '3'))
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href
if (isMain) {
  // tsx bench/matomo-server.ts [--mode instant|latency|saturating] [--latency-ms 250] [--per-hit-ms 1] [--overhead-ms 25] [--fail-above 3]
  const options = parseServerArgs(process.argv.slice(2))
  const { server } = createFakeMatomo(options)
  server.listen(0, '127.0.0.1', () => {
    const address = server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    process.stdout.write(JSON.stringify({ port, ...options }) + '\n')
  })
  const stop = (): void => { server.close(); server.closeAllConnections(); process.exit(0) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
