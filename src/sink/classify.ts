// Turns each answer to a bulk request into delivered / unaccounted / retry / split / fatal (matomo-tracking-api.md §2, §3).
import { errors, type ForwardError } from '../errors.js'
import type { HttpAnswer, RequestFailure } from './bulk-request.js'

/** Why a batch is retried; bounded, for logs and the summary. */
export type RetryReason = 'timeout' | 'network' | 'http_408' | 'http_429' | 'http_5xx' | 'status_error'

export type Outcome =
  /** Matomo answered for every hit: `tracked + invalid == sent`. `invalidIndices` only for a super-user token. */
  | { readonly kind: 'delivered', readonly tracked: number, readonly invalid: number, readonly invalidIndices: readonly number[] | undefined }
  /** `tracked + invalid < sent` (lock wait timeouts, tracking disabled...): never a success. */
  | { readonly kind: 'unaccounted', readonly tracked: number, readonly invalid: number, readonly missing: number }
  /** Nothing was stored (Matomo rolls a failed bulk back): send the same batch again. */
  | { readonly kind: 'retry', readonly reason: RetryReason, readonly message: string, readonly retryAfterMs: number | undefined }
  /** 413: the body is too large for a web server in front of Matomo; send the batch in halves. */
  | { readonly kind: 'split', readonly message: string }
  /** A configuration problem that no retry will fix: stop. */
  | { readonly kind: 'fatal', readonly error: ForwardError }

export interface ClassifyContext {
  /** The tracking URL for messages (no userinfo, no query). */
  readonly display: string
  /** What is cut out of any body excerpt shown in a message (secretForms): a server may echo the request. */
  readonly secrets: readonly string[]
}

/**
 * Every form in which our secrets could come back in an answer that echoes the request: the token as given, as
 * JSON-escaped in a bulk body and as form-encoded for the Reporting API; the basic-auth credentials of
 * --matomo-url as written, decoded, and base64 in the Authorization header. Longest first, so that a form
 * containing another is cut whole.
 */
export function secretForms (token: string | undefined, credentials: readonly string[] = []): string[] {
  const forms = new Set<string>()
  const add = (secret: string): void => {
    forms.add(secret)
    // As a JSON string shows it, and as PHP's json_encode does (/ as \/, non-ASCII as \uXXXX), and as an HTML
    // page shows it (htmlspecialchars, a PHP error page dumping PHP_AUTH_PW).
    const json = JSON.stringify(secret).slice(1, -1)
    forms.add(json)
    forms.add(json.replaceAll('/', '\\/').replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')))
    forms.add(secret.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#039;'))
  }
  for (const credential of credentials) add(credential)
  if (token !== undefined && token !== '') {
    add(token)
    forms.add(encodeURIComponent(token))
    forms.add(new URLSearchParams({ t: token }).toString().slice(2))
  }
  forms.delete('')
  return [...forms].sort((a, b) => b.length - a.length)
}

/** `text` with every secret form replaced by `marker`. */
export function redactSecrets (text: string, secrets: readonly string[], marker = '<redacted>'): string {
  for (const secret of secrets) if (text.includes(secret)) text = text.split(secret).join(marker)
  return text
}

/** Retry-After values beyond this are taken as this (a misconfigured server must not park a batch for days). */
export const RETRY_AFTER_MAX_MS = 60 * 60 * 1000

interface BulkAnswerJson {
  status?: unknown
  tracked?: unknown
  invalid?: unknown
  invalid_indices?: unknown
}

/** Classifies an HTTP answer to a bulk body of `sent` hits. Pure; `now` is for HTTP-date Retry-After values. */
export function classifyAnswer (answer: HttpAnswer, sent: number, context: ClassifyContext, now: number = Date.now()): Outcome {
  const { status } = answer
  const where = context.display
  if (status === 200) return classifyOk(answer, sent, context, now)
  if (status === 204) {
    return fatalConfig(where, 'it answered 204 No Content, without the tracked/invalid counts of a bulk answer. Something set send_image=0 in the body, or a queue or proxy took the batch; whether these hits were recorded is unknown. Point --matomo-url at matomo.php itself and check the QueuedTracking plugin')
  }
  if (status === 413) return { kind: 'split', message: 'HTTP 413: the body is larger than a web server in front of Matomo accepts (nginx client_max_body_size is 1 MiB by default)' }
  if (status === 408) return retry('http_408', 'HTTP 408 Request Timeout', answer, now)
  if (status === 429) return retry('http_429', 'HTTP 429 Too Many Requests', answer, now)
  // Matomo's brute-force protection refuses every request from a blocked IP, valid token or not, for up to an
  // hour: retrying cannot help and a retry loop only keeps the block alive (matomo-real/ANSWERS.md F9).
  if (status >= 500 && isBruteForceBlock(answer.body)) return { kind: 'fatal', error: errors.MF_ERR_SINK_BLOCKED(where, BRUTE_FORCE_HELP) }
  // A 5xx body may carry `tracked` counts: with bulk_requests_use_transaction (the default) that work was
  // rolled back, so they are never counted.
  if (status >= 500) return retry('http_5xx', `HTTP ${status}${snippet(answer, context)}${isBareBulkError(answer) ? BARE_500_HINT : ''}`, answer, now)
  if (status === 400) {
    if (!isJson(answer) || looksLikeMatomoPage(answer.body)) {
      return fatalConfig(where, `it answered HTTP 400 "This resource is part of Matomo": the body was not recognised as a bulk tracking request. Check that --matomo-url is Matomo's matomo.php and that no proxy rewrites request bodies${snippet(answer, context)}`)
    }
    return { kind: 'fatal', error: errors.MF_ERR_SINK_REFUSED(where, `HTTP 400: Matomo aborted the whole batch on an invalid request (nothing was stored)${snippet(answer, context)}. The batch is not acknowledged and is sent again by the next run (its lines are logged just before this error)`) }
  }
  if (status === 401) {
    return { kind: 'fatal', error: errors.MF_ERR_SINK_REFUSED(where, 'HTTP 401: a web server or proxy in front of Matomo asks for credentials (this is not the Matomo token). Give them in the URL: --matomo-url https://user:password@host/matomo.php') }
  }
  if (status === 403) {
    return { kind: 'fatal', error: errors.MF_ERR_SINK_REFUSED(where, 'HTTP 403: a web server, firewall (WAF) or proxy in front of Matomo forbids the request. Allow POST requests with a JSON body to matomo.php from this host') }
  }
  if (status === 404 || status === 405) {
    return fatalConfig(where, `it answered HTTP ${status}: there is no tracking endpoint at this URL. Give --matomo-url as https://your-matomo/matomo.php (or the base URL of Matomo)`)
  }
  if (status >= 300 && status < 400) {
    return fatalConfig(where, `it answered HTTP ${status} (a redirect), which is not followed for a POST. Give --matomo-url as the final URL (often https:// instead of http://)`)
  }
  return { kind: 'fatal', error: errors.MF_ERR_SINK_REFUSED(where, `HTTP ${status}${snippet(answer, context)}`) }
}

function classifyOk (answer: HttpAnswer, sent: number, context: ClassifyContext, now: number): Outcome {
  const where = context.display
  if (!isJson(answer)) {
    if (answer.contentType === 'image/gif' || answer.body.startsWith('GIF8')) {
      return fatalConfig(where, 'it answered with a tracking GIF instead of the JSON of a bulk request: the QueuedTracking plugin probably queued the batch (a proxy dropping the ?queuedtracking=0 query string?), or the URL is not the tracking endpoint. Whether these hits were recorded is unknown')
    }
    if (answer.body.trim() === '') {
      return fatalConfig(where, 'it answered HTTP 200 with an empty body instead of the JSON of a bulk request (a queue or proxy took the batch?). Whether these hits were recorded is unknown')
    }
    return fatalConfig(where, `it answered a page (${answer.contentType === '' ? 'no content type' : answer.contentType}) instead of the JSON of a bulk request: --matomo-url points to Matomo's user interface or another site, not to matomo.php${snippet(answer, context)}`)
  }
  let json: BulkAnswerJson
  try {
    json = JSON.parse(answer.body) as BulkAnswerJson
  } catch {
    return fatalConfig(where, `it answered text that is not valid JSON${snippet(answer, context)}`)
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json) || typeof json.status !== 'string') {
    return fatalConfig(where, `it answered JSON that is not a bulk tracking answer${snippet(answer, context)}`)
  }
  if (json.status !== 'success') return retry('status_error', `HTTP 200 with status "${json.status}"${snippet(answer, context)}`, answer, now)
  const tracked = json.tracked
  const invalid = json.invalid
  if (!isCount(tracked) || !isCount(invalid)) {
    return fatalConfig(where, `it answered success without numeric tracked/invalid counts${snippet(answer, context)}`)
  }
  const answered = tracked + invalid
  if (answered > sent) {
    return fatalConfig(where, `it counted ${answered} hits (tracked ${tracked}, invalid ${invalid}) for a batch of ${sent}: the answer does not belong to this request (a caching proxy?)`)
  }
  if (answered < sent) return { kind: 'unaccounted', tracked, invalid, missing: sent - answered }
  return { kind: 'delivered', tracked, invalid, invalidIndices: parseIndices(json.invalid_indices, invalid, sent) }
}

/** What to do about Matomo's brute-force block; shared by the sink and the preflight. */
export const BRUTE_FORCE_HELP = 'Matomo\'s brute-force protection (20 requests with an unknown token within an hour) now refuses every request from this address, even with a valid token. Retrying does not help. Fix the token that failed (matomo-forward check), then wait up to an hour, or have a Matomo super user unblock the address: DELETE FROM matomo_brute_force_log (table prefix as configured), or allow-list it (login_allowlist_ip[] in config/config.ini.php)'

/** Matomo's "Too many failed logins" message, in an HTML page or a JSON error. */
export function isBruteForceBlock (body: string): boolean {
  return body.includes('Too many failed logins')
}

/** Matomo answers a blocked IP's bulk request with this body only, and so it does a rolled-back batch. */
const BARE_500_HINT = ' (if this persists: Matomo also answers this to a bulk request from an address its brute-force protection blocked; `matomo-forward check` tells)'

function isBareBulkError (answer: HttpAnswer): boolean {
  return /^\s*\{\s*"status"\s*:\s*"error"\s*,\s*"tracked"\s*:\s*0\s*,\s*"invalid"\s*:\s*0\s*\}\s*$/.test(answer.body)
}

/** Classifies a request that got no HTTP answer. */
export function classifyFailure (failure: RequestFailure, context: ClassifyContext): Outcome {
  switch (failure.kind) {
    case 'timeout':
      return { kind: 'retry', reason: 'timeout', message: failure.message, retryAfterMs: undefined }
    case 'tls':
      return fatalConfig(context.display, `the TLS connection failed (${failure.message}). For a private certificate authority give --ca-file; --insecure skips verification (dangerous)`)
    case 'aborted':
    case 'network':
      return { kind: 'retry', reason: 'network', message: failure.message, retryAfterMs: undefined }
  }
}

/** Indices are trusted only if they are exactly `invalid` distinct positions within the batch. */
function parseIndices (value: unknown, invalid: number, sent: number): readonly number[] | undefined {
  if (!Array.isArray(value)) return undefined
  const seen = new Set<number>()
  for (const index of value) {
    const n = typeof index === 'string' ? Number(index) : index
    if (!Number.isInteger(n) || (n as number) < 0 || (n as number) >= sent) return undefined
    seen.add(n as number)
  }
  return seen.size === invalid ? [...seen].sort((a, b) => a - b) : undefined
}

function retry (reason: RetryReason, message: string, answer: HttpAnswer, now: number): Outcome {
  return { kind: 'retry', reason, message, retryAfterMs: parseRetryAfter(answer.retryAfter, now) }
}

/** Retry-After as delay-seconds or an HTTP date; capped at RETRY_AFTER_MAX_MS. */
export function parseRetryAfter (value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  let ms: number
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000
  else {
    const date = Date.parse(trimmed)
    if (Number.isNaN(date)) return undefined
    ms = Math.max(0, date - now)
  }
  return Math.min(ms, RETRY_AFTER_MAX_MS)
}

function fatalConfig (where: string, message: string): Outcome {
  return { kind: 'fatal', error: errors.MF_ERR_SINK_CONFIG(where, message) }
}

function isJson (answer: HttpAnswer): boolean {
  if (answer.contentType === 'application/json' || answer.contentType.endsWith('+json')) return true
  // Some proxies drop or rewrite the content type; a body that starts like our JSON is taken as JSON.
  return answer.contentType !== 'image/gif' && answer.contentType !== 'text/html' && answer.body.trimStart().startsWith('{')
}

function looksLikeMatomoPage (body: string): boolean {
  return body.includes('part of Matomo') || body.startsWith('GIF8')
}

function isCount (value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0
}

/** A short, single-line, token-free excerpt of a body for messages. */
export function snippet (answer: HttpAnswer, context: ClassifyContext): string {
  // Secrets out first: stripping tags and control characters could split one (a password holding "<"). A
  // private-use character holds their place through the clean-up, which would strip a "<redacted>".
  const body = redactSecrets(answer.body, context.secrets, '\ue000')
  let text = body.startsWith('GIF8') ? body.slice(body.indexOf('<') === -1 ? 0 : body.indexOf('<')) : body
  text = text.replace(/<[^>]*>/g, ' ').replace(/[^\x20-\x7e\u00a0-\uffff]+/g, ' ').replace(/\s+/g, ' ').trim().replaceAll('\ue000', '<redacted>')
  if (text === '') return ''
  return `: "${excerpt(text)}"`
}

/** At most 200 characters of a message taken from an answer. */
export function excerpt (text: string): string {
  return text.length > 200 ? text.slice(0, 200) + '…' : text
}
