// A fake Matomo on 127.0.0.1 (port 0) that answers bulk tracking and a few Reporting API calls like Matomo 5.1/5.2.
//
// Usage:
//   const matomo = await startFakeMatomo()            // t.after(() => matomo.close())
//   ... send to matomo.url (http://127.0.0.1:PORT/matomo.php) with token SUPER_TOKEN or WRITE_TOKEN
//   matomo.hits      every hit Matomo stored, in commit order (params objects, `cdt` etc. as sent)
//   matomo.requests  every HTTP request received (method, path, query, headers, body text)
//   matomo.bulkCount bulk requests received (the index passed to `script`)
//   matomo.peakInFlight  most bulk requests being handled at the same time
//
// Default behaviour (matomo-tracking-api.md §2 and §3):
//   - POST /matomo.php with a body containing "requests": bulk. Items are objects or "?query" strings; a string
//     without "?" is dropped, any other non-object is "tracked" and stores nothing.
//   - An item is invalid when its idsite is missing or unknown, cid is not 16 hex chars, a pf_* is negative, or it
//     has cip or a cdt ≥ 24 h old without an authenticated token (top-level token_auth, or the item's own when the
//     top-level one is empty). A super-user token authenticates every site; a write token its own sites.
//   - Answer: 200 {"status":"success","tracked":T,"invalid":I}, plus "invalid_indices" only for a super-user
//     token and a non-empty list. "send_image" 0/"0" in the body → 204 with an empty body (items still stored).
//   - A body without "requests", or not JSON → 400 text/html: GIF bytes + "This resource is part of Matomo".
//   - /index.php?module=API&method=…: UsersManager.hasSuperUserAccess, SitesManager.getSitesIdWithAdminAccess,
//     SitesManager.getSitesIdWithWriteAccess (super users get []), SitesManager.getSiteFromId, API.getMatomoVersion;
//     params from the query and the POST body (/work/matomo-real/ANSWERS.md, Matomo 5.2, F8):
//       - a non-empty unknown token → 401; JSON {"result":"error","message":"Unable to authenticate…"} when `method`
//         is in the query string, an HTML error page when everything is in the POST body;
//       - no token → the anonymous user: hasSuperUserAccess false, empty lists, getSiteFromId 401 JSON;
//       - a valid token without access → 401 JSON "You can't access this resource…" (whatever the layout);
//       - getSiteFromId of an unknown site with a super-user token, or an unknown method → 200 result:error.
//   - Brute-force protection (F9): every request with a non-empty unknown token to the Reporting API, and every bulk
//     request with such a token and an item that needs authentication, is a failed login. After `bruteForceLimit`
//     (20) of them the IP is blocked: every Reporting API call answers 500 "Too many failed logins…" (JSON or HTML as
//     above), a bulk request with items 500 {"status":"error","tracked":0,"invalid":0}; an empty bulk request still
//     200 success. `unblock()` clears it (DELETE FROM matomo_brute_force_log).
//
// Scripting: `script(info)` (an option) and `enqueue(...)` (queued answers, used first) decide the answer of a
// bulk request; undefined means the default. See `Scripted` for every kind. `latencyMs` delays every answer.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export const SUPER_TOKEN = 'a0'.repeat(16)
export const WRITE_TOKEN = 'b1'.repeat(16)
export const VIEW_TOKEN = 'c2'.repeat(16)

/** The 43-byte transparent GIF Matomo sends for single requests. */
export const TRACKING_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')

export type Scripted =
  /** The default behaviour. */
  | { kind: 'default' }
  /** Every item tracked and stored (indices [] for a super-user token). */
  | { kind: 'success' }
  /** These positions invalid (not stored), the rest stored; answer with invalid_indices. */
  | { kind: 'invalid_indices', indices: number[] }
  /** These positions invalid, the rest stored; answer with counts only. */
  | { kind: 'counts_only', invalid: number[] }
  /** The last `missing` items skipped (lock wait timeout): neither tracked nor invalid, not stored. */
  | { kind: 'tracked_less', missing: number }
  /** 200 image/gif (QueuedTracking took the batch); nothing stored here. */
  | { kind: 'gif' }
  /** 204 empty. Nothing stored. */
  | { kind: 'no_content' }
  /** 400 "This resource is part of Matomo" page. */
  | { kind: 'html_400' }
  /** Any status with an optional body (401, 403, 404, 413, 502...). */
  | { kind: 'status', status: number, body?: string, contentType?: string, headers?: Record<string, string> }
  /** 429 (or `status`) with a Retry-After header. */
  | { kind: 'retry_after', retryAfter: string, status?: number }
  /** 500 {"status":"error","tracked":N} where N counts rolled-back work; `commitFirst` items are stored anyway (partial commit). */
  | { kind: 'error_500', tracked?: number, commitFirst?: number }
  /** The connection is destroyed without an answer. */
  | { kind: 'reset' }
  /** The default answer after `delayMs`; items are stored only if the client is still connected then. */
  | { kind: 'slow', delayMs: number }

export interface BulkInfo {
  /** 0-based index of this bulk request among all bulk requests received. */
  readonly index: number
  /** The parsed items. */
  readonly items: readonly unknown[]
  readonly body: string
}

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

export interface StoredHit {
  readonly params: Readonly<Record<string, unknown>>
  /** Index of the bulk request that stored it. */
  readonly request: number
}

export interface FakeMatomoOptions {
  superUserToken?: string
  /** token → site ids it may write to. @default { [WRITE_TOKEN]: [1] } */
  writeTokens?: Readonly<Record<string, readonly number[]>>
  /** token → site ids it administers (getSitesIdWithWriteAccess does not list them). @default {} */
  adminTokens?: Readonly<Record<string, readonly number[]>>
  /** token → site ids it may view. @default { [VIEW_TOKEN]: [1] } */
  viewTokens?: Readonly<Record<string, readonly number[]>>
  /** Existing sites. @default [1] */
  sites?: readonly number[]
  /** Delay of every answer. @default 0 */
  latencyMs?: number
  script?: (info: BulkInfo) => Scripted | undefined
  /** Matomo's clock for the 24-hour cdt rule. @default Date.now */
  nowMs?: () => number
  /** Failed logins after which the IP is blocked (Login plugin: 20 per 60 min). @default 20 */
  bruteForceLimit?: number
}

export interface FakeMatomo {
  /** The tracking endpoint: http://127.0.0.1:PORT/matomo.php */
  readonly url: string
  readonly origin: string
  readonly requests: RecordedRequest[]
  readonly hits: StoredHit[]
  /** Bulk requests received so far. */
  readonly bulkCount: number
  /** Most bulk requests open at the same time (received, not yet answered). */
  readonly peakInFlight: number
  /** Answers for the next bulk requests, in order, before `script` and the default. */
  enqueue: (...answers: Scripted[]) => void
  /** Failed logins recorded (requests with a non-empty unknown token that had to be checked). */
  readonly failedLogins: number
  /** True once failedLogins reached bruteForceLimit. */
  readonly blocked: boolean
  /** Clears the failed logins (as DELETE FROM matomo_brute_force_log does). */
  unblock: () => void
  close: () => Promise<void>
}

type Auth = { level: 'super' } | { level: 'admin' | 'write', sites: readonly number[] } | { level: 'view', sites: readonly number[] } | { level: 'unknown' } | { level: 'none' }

const TOO_MANY_FAILED_LOGINS = 'Too many failed logins. Please wait and try logging in again later.'
const UNABLE_TO_AUTHENTICATE = 'Unable to authenticate with the provided token. It is either invalid or expired.'

/** Matomo's HTML error page (what the Reporting API answers when `method` is not in the query string). */
function errorPage (message: string): string {
  return `<!DOCTYPE html><html><head><title>Matomo › Error</title></head><body><div class="content"><h2>${message}</h2><p><a href="javascript:window.history.back();">Go Back</a> | <a href="index.php">Go to Matomo</a></p></div></body></html>`
}

const MATOMO_PAGE = '<!DOCTYPE html><html><body><h1>This resource is part of Matomo.</h1><p>Matomo is a free/libre web analytics.</p></body></html>'

export async function startFakeMatomo (options: FakeMatomoOptions = {}): Promise<FakeMatomo> {
  const superToken = options.superUserToken ?? SUPER_TOKEN
  const writeTokens = options.writeTokens ?? { [WRITE_TOKEN]: [1] }
  const viewTokens = options.viewTokens ?? { [VIEW_TOKEN]: [1] }
  const adminTokens = options.adminTokens ?? {}
  const sites = new Set(options.sites ?? [1])
  const nowMs = options.nowMs ?? Date.now
  const requests: RecordedRequest[] = []
  const hits: StoredHit[] = []
  const queue: Scripted[] = []
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  /** Timers are cleared on close, so a scripted slow answer never keeps a test process alive. */
  const later = (fn: () => void, ms: number): void => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      fn()
    }, ms)
    timers.add(timer)
  }
  let bulkCount = 0
  let failedLogins = 0
  const bruteForceLimit = options.bruteForceLimit ?? 20
  const isBlocked = (): boolean => failedLogins >= bruteForceLimit
  let inFlight = 0
  let peakInFlight = 0

  const authOf = (token: unknown): Auth => {
    if (typeof token !== 'string' || token === '') return { level: 'none' }
    if (token === superToken) return { level: 'super' }
    const write = writeTokens[token]
    if (write !== undefined) return { level: 'write', sites: write }
    const admin = adminTokens[token]
    if (admin !== undefined) return { level: 'admin', sites: admin }
    const view = viewTokens[token]
    if (view !== undefined) return { level: 'view', sites: view }
    return { level: 'unknown' }
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const record: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body }
      requests.push(record)
      if (record.path.endsWith('.php') && !record.path.endsWith('/index.php')) {
        inFlight++
        peakInFlight = Math.max(peakInFlight, inFlight)
        res.on('close', () => { inFlight-- })
      }
      const answer = (): void => {
        try {
          route(record, req, res)
        } catch (err) {
          res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err))
        }
      }
      if ((options.latencyMs ?? 0) > 0) later(answer, options.latencyMs ?? 0)
      else answer()
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  function route (record: RecordedRequest, req: IncomingMessage, res: ServerResponse): void {
    if (record.path.endsWith('/matomo.php') || record.path.endsWith('/piwik.php')) {
      bulk(record, req, res)
    } else if (record.path.endsWith('/index.php')) {
      api(record, res)
    } else {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not Found</h1>')
    }
  }

  function bulk (record: RecordedRequest, req: IncomingMessage, res: ServerResponse): void {
    const { body } = record
    // Bulk mode is switched on by the substring "requests" alone (BulkTracking plugin).
    if (!body.includes('"requests"') && !body.includes('\'requests\'')) return page400(res)
    let parsed: { requests?: unknown, token_auth?: unknown, send_image?: unknown }
    try {
      parsed = JSON.parse(body) as typeof parsed
    } catch {
      return page400(res)
    }
    const items = Array.isArray(parsed.requests) ? parsed.requests : []
    const index = bulkCount++
    // A blocked IP fails every non-empty bulk request, even with a valid token; an empty one still succeeds (F1, F9).
    if (items.length > 0 && isBlocked()) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', tracked: 0, invalid: 0 }))
      return
    }
    // The tracker checks the token only when an item needs it (cip, old cdt): one failed login per request.
    if (authOf(parsed.token_auth).level === 'unknown' && items.some((raw) => { const item = toParams(raw); return item !== undefined && needsAuthentication(item) })) failedLogins++
    const scripted = queue.shift() ?? options.script?.({ index, items, body }) ?? { kind: 'default' }
    const auth = authOf(parsed.token_auth)
    const json = (status: number, value: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value))
    }
    const store = (positions: Iterable<number>): void => {
      for (const i of positions) {
        const item = toParams(items[i])
        if (item !== undefined && String(item.rec) === '1') hits.push({ params: item, request: index })
      }
    }
    const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i)

    switch (scripted.kind) {
      case 'default':
        return processDefault(index, items, parsed, auth, res, req)
      case 'slow':
        later(() => { processDefault(index, items, parsed, auth, res, req) }, scripted.delayMs)
        return
      case 'success':
        store(range(0, items.length))
        return json(200, withIndices({ status: 'success', tracked: items.length, invalid: 0 }, auth, items, []))
      case 'invalid_indices':
      case 'counts_only': {
        const bad = new Set(scripted.kind === 'invalid_indices' ? scripted.indices : scripted.invalid)
        store(range(0, items.length).filter((i) => !bad.has(i)))
        const answer = { status: 'success', tracked: items.length - bad.size, invalid: bad.size }
        return json(200, scripted.kind === 'invalid_indices' ? { ...answer, invalid_indices: [...bad].sort((a, b) => a - b) } : answer)
      }
      case 'tracked_less': {
        const tracked = Math.max(0, items.length - scripted.missing)
        store(range(0, tracked))
        return json(200, withIndices({ status: 'success', tracked, invalid: 0 }, auth, items, []))
      }
      case 'gif':
        res.writeHead(200, { 'content-type': 'image/gif' }).end(TRACKING_GIF)
        return
      case 'no_content':
        res.writeHead(204, { 'content-type': 'application/json' }).end()
        return
      case 'html_400':
        return page400(res)
      case 'status':
        res.writeHead(scripted.status, { 'content-type': scripted.contentType ?? 'text/html', ...scripted.headers }).end(scripted.body ?? `<h1>${scripted.status}</h1>`)
        return
      case 'retry_after':
        res.writeHead(scripted.status ?? 429, { 'content-type': 'text/html', 'retry-after': scripted.retryAfter }).end('<h1>Too Many Requests</h1>')
        return
      case 'error_500':
        store(range(0, Math.min(items.length, scripted.commitFirst ?? 0)))
        // The counts describe work that was rolled back (bulk_requests_use_transaction=1).
        return json(500, { status: 'error', tracked: scripted.tracked ?? items.length, invalid: 0 })
      case 'reset':
        req.socket.destroy()
    }
  }

  function processDefault (index: number, items: unknown[], parsed: { token_auth?: unknown, send_image?: unknown }, auth: Auth, res: ServerResponse, req: IncomingMessage): void {
    if (req.socket.destroyed) return // the client gave up: the transaction is not committed here
    let tracked = 0
    const invalid: number[] = []
    items.forEach((raw, i) => {
      if (typeof raw === 'string' && !raw.includes('?')) return // silently dropped
      const item = toParams(raw)
      if (item === undefined) {
        tracked++ // e.g. a number: "tracked", nothing stored
        return
      }
      const itemAuth = auth.level === 'none' ? authOf(item.token_auth) : auth
      if (isInvalid(item, itemAuth)) {
        invalid.push(i)
        return
      }
      tracked++
      if (String(item.rec) === '1') hits.push({ params: item, request: index })
    })
    const answer = withIndices({ status: 'success', tracked, invalid: invalid.length }, auth, items, invalid)
    if (parsed.send_image === 0 || parsed.send_image === '0') {
      res.writeHead(204, { 'content-type': 'application/json' }).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
  }

  function isInvalid (item: Record<string, unknown>, auth: Auth): boolean {
    const idsite = Number(item.idsite)
    if (!Number.isInteger(idsite) || idsite <= 0 || !sites.has(idsite)) return true
    if (item.cid !== undefined && !/^[0-9a-f]{16}$/i.test(String(item.cid))) return true
    for (const [key, value] of Object.entries(item)) {
      if (key.startsWith('pf_') && Number(value) < 0) return true
    }
    if (!needsAuthentication(item)) return false
    if (auth.level === 'super') return false
    if (auth.level === 'write' || auth.level === 'admin') return !auth.sites.includes(idsite)
    return true
  }

  function needsAuthentication (item: Record<string, unknown>): boolean {
    const cdtMs = cdtOf(item.cdt)
    return item.cip !== undefined || (cdtMs !== undefined && nowMs() - cdtMs >= 86_400_000)
  }

  function api (record: RecordedRequest, res: ServerResponse): void {
    const params = { ...record.query, ...Object.fromEntries(new URLSearchParams(record.body)) }
    const json = (value: unknown, status = 200): void => { res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(value)) }
    const error = (message: string, status = 200): void => { json({ result: 'error', message }, status) }
    // Authentication failures are rendered as JSON only when `method` is in the query string (F8).
    const authError = (message: string, status: number): void => {
      if (record.query.method !== undefined) return error(message, status)
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(errorPage(message))
    }
    if (params.module !== 'API') return error('The module is missing.')
    if (isBlocked()) return authError(TOO_MANY_FAILED_LOGINS, 500)
    const auth = authOf(params.token_auth === 'anonymous' ? '' : params.token_auth)
    if (auth.level === 'unknown') {
      failedLogins++
      return authError(UNABLE_TO_AUTHENTICATE, 401)
    }
    const idSite = Number(params.idSite)
    const canView = (id: number): boolean => auth.level === 'super' || ((auth.level === 'admin' || auth.level === 'write' || auth.level === 'view') && auth.sites.includes(id))
    switch (params.method) {
      case 'API.getMatomoVersion':
        if (auth.level === 'none') return error('You can\'t access this resource as it requires \'view\' access for at least one website.', 401)
        return json({ value: '5.2.0' })
      case 'UsersManager.hasSuperUserAccess':
        return json({ value: auth.level === 'super' })
      case 'SitesManager.getSitesIdWithAdminAccess':
        return json(auth.level === 'super' ? [...sites] : auth.level === 'admin' ? auth.sites.filter((s) => sites.has(s)) : [])
      case 'SitesManager.getSitesIdWithWriteAccess':
        return json(auth.level === 'write' ? auth.sites.filter((s) => sites.has(s)) : [])
      case 'SitesManager.getSiteFromId':
        if (auth.level === 'super' && !sites.has(idSite)) return error(`An unexpected website was found in the request: website id was set to '${params.idSite ?? ''}' .`)
        if (!canView(idSite) || !sites.has(idSite)) return error(`You can't access this resource as it requires 'view' access for the website id = ${params.idSite ?? ''}.`, 401)
        return json({ idsite: String(idSite), name: `Site ${idSite}`, main_url: 'https://www.example.org' })
      default:
        return error(`The method '${params.method ?? ''}' does not exist or is not available in the module.`)
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const origin = `http://127.0.0.1:${port}`

  return {
    url: `${origin}/matomo.php`,
    origin,
    requests,
    hits,
    get bulkCount () {
      return bulkCount
    },
    get peakInFlight () {
      return peakInFlight
    },
    enqueue (...answers) {
      queue.push(...answers)
    },
    get failedLogins () {
      return failedLogins
    },
    get blocked () {
      return isBlocked()
    },
    unblock () {
      failedLogins = 0
    },
    async close () {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

function page400 (res: ServerResponse): void {
  res.writeHead(400, { 'content-type': 'image/gif' }).end(Buffer.concat([TRACKING_GIF, Buffer.from(MATOMO_PAGE)]))
}

function withIndices (answer: Record<string, unknown>, auth: Auth, items: readonly unknown[], invalid: readonly number[]): Record<string, unknown> {
  // invalid_indices only for a super-user token at the top level, and not for an empty list (§3 rows 1, 3, 12).
  return auth.level === 'super' && items.length > 0 ? { ...answer, invalid_indices: invalid } : answer
}

function toParams (raw: unknown): Record<string, unknown> | undefined {
  if (typeof raw === 'string') {
    const q = raw.indexOf('?')
    return q === -1 ? undefined : Object.fromEntries(new URLSearchParams(raw.slice(q + 1)))
  }
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) return raw as Record<string, unknown>
  return undefined
}

function cdtOf (value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value))) return Math.floor(Number(value)) * 1000
  const parsed = Date.parse(String(value).replace(' ', 'T') + (/[zZ]|[+-]\d\d:?\d\d$/.test(String(value)) ? '' : 'Z'))
  return Number.isNaN(parsed) ? undefined : parsed
}
