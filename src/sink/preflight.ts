// `matomo-forward check` and the automatic preflight: URL, bulk endpoint, token and site, without writing any data.
import { buildBulkBody, RequestFailure, type BulkClient, type HttpAnswer } from './bulk-request.js'
import { BRUTE_FORCE_HELP, classifyAnswer, classifyFailure, excerpt, isBruteForceBlock, redactSecrets, secretForms, snippet, type ClassifyContext } from './classify.js'

export type CheckStatus = 'ok' | 'warn' | 'fail'

export interface PreflightCheck {
  readonly name: 'endpoint' | 'token' | 'access' | 'site'
  readonly status: CheckStatus
  /** What was found, and for warn/fail what to do about it. */
  readonly message: string
}

export interface PreflightReport {
  readonly checks: readonly PreflightCheck[]
  /** False when any check failed. */
  readonly ok: boolean
  /** True: Matomo's answers carry invalid_indices. Undefined without a token or when unknown. */
  readonly superUser: boolean | undefined
}

export interface PreflightOptions {
  client: BulkClient
  idsite: number
  token: string | undefined
  signal?: AbortSignal
}

/**
 * Only requests that store nothing: an empty bulk body and read-only Reporting API calls with the token in the
 * POST body. Measured on Matomo 5.2 (matomo-real/ANSWERS.md): `{"requests":[]}` answers success for ANY token (and
 * even from an IP Matomo has blocked), so it proves only that the URL is Matomo's bulk endpoint; the token is
 * judged by the Reporting API alone. No call is ever retried: each request with a bad token counts toward Matomo's
 * brute-force block (20 per hour and IP), and the preflight stops at the first token failure.
 */
export async function runPreflight (options: PreflightOptions): Promise<PreflightReport> {
  const { client, idsite, token } = options
  const context: ClassifyContext = { display: client.endpoint.display, secrets: secretForms(token, client.endpoint.credentials) }
  const checks: PreflightCheck[] = []
  const add = (name: PreflightCheck['name'], status: CheckStatus, message: string): void => { checks.push({ name, status, message }) }

  // 1. The URL answers, as a bulk tracking endpoint (JSON, not a GIF or a page). Without the token: an empty bulk
  // request succeeds whatever the token, so sending it would prove nothing.
  let endpointOk = false
  try {
    const answer = await client.sendBulk(buildBulkBody([], undefined), options.signal)
    const outcome = classifyAnswer(answer, 0, context)
    if (outcome.kind === 'delivered') {
      endpointOk = true
      add('endpoint', 'ok', `${client.endpoint.display} answers bulk tracking requests with JSON (Matomo's bulk endpoint)`)
    } else if (outcome.kind === 'fatal') {
      add('endpoint', 'fail', outcome.error.message)
    } else if (outcome.kind === 'retry') {
      add('endpoint', 'fail', `${client.endpoint.display} is not healthy right now (${outcome.message}); try again later, or look at Matomo's and the web server's error logs`)
    } else {
      add('endpoint', 'fail', `${client.endpoint.display} gave an unexpected answer to an empty bulk request (${outcome.kind})`)
    }
  } catch (err) {
    if (!(err instanceof RequestFailure)) throw err
    const outcome = classifyFailure(err, context)
    const hint = err.kind === 'timeout'
      ? 'check that the host and port are right and reachable from here (firewall, proxy variables HTTPS_PROXY / NO_PROXY)'
      : 'check the host name and port in --matomo-url, and that Matomo is running'
    add('endpoint', 'fail', outcome.kind === 'fatal' ? outcome.error.message : `cannot reach ${client.endpoint.display}: ${err.message}; ${hint}`)
  }
  if (!endpointOk) return finish(checks, undefined)

  if (token === undefined) {
    add('token', 'warn', 'no token: client IPs (cip) are not sent, so Matomo records every visit from this machine\'s address, and lines older than 24 hours are rejected as cdt_requires_token. Give one with --access-token-file or MATOMO_FORWARD_ACCESS_TOKEN (a user with write access to the site)')
    const site = await apiCall(client, 'SitesManager.getSiteFromId', { idSite: String(idsite) }, undefined, context, options.signal)
    if (site.kind === 'value' && isObject(site.value)) add('site', 'ok', describeSite(idsite, site.value))
    else add('site', 'warn', `cannot check that site ${idsite} exists without a token; a wrong --idsite makes Matomo count every hit invalid`)
    return finish(checks, undefined)
  }

  // 2. The token is valid, and what it may do.
  const superUser = await apiCall(client, 'UsersManager.hasSuperUserAccess', {}, token, context, options.signal)
  if (superUser.kind !== 'value') {
    if (superUser.reason === 'auth') {
      add('token', 'fail', `Matomo does not accept the token${superUser.message === '' ? '' : ` (${superUser.message})`}. Check that it exists and has not expired (Administration > Personal > Security > Auth tokens), that it was copied whole, and, for a token restricted to secure requests, that --matomo-url is https://. Do not retry in a loop: every attempt with a bad token counts toward Matomo's brute-force block (20 per hour)`)
    } else {
      add('token', 'fail', failureMessage(superUser, 'cannot check the token'))
    }
    return finish(checks, undefined)
  }
  const isSuper = unwrapValue(superUser.value) === true
  if (isSuper) {
    add('token', 'ok', 'the token belongs to a super user: hits Matomo counts invalid are identified (invalid_indices) and written to the reject file')
  } else {
    add('token', 'warn', 'the token is valid but not a super user\'s: Matomo will count invalid hits without saying which, so such lines cannot be written to the reject file (they are counted in the summary)')
    const [admin, write] = await Promise.all([
      apiCall(client, 'SitesManager.getSitesIdWithAdminAccess', {}, token, context, options.signal),
      apiCall(client, 'SitesManager.getSitesIdWithWriteAccess', {}, token, context, options.signal)
    ])
    // Write access = write or admin (a super user is handled above: getSitesIdWithWriteAccess answers [] for one).
    const ids = new Set<number>([...idsOf(admin), ...idsOf(write)])
    const failed = [admin, write].find((r): r is ApiFailure => r.kind === 'error' && r.reason !== 'access')
    if (ids.has(idsite)) add('access', 'ok', `the token has write access to site ${idsite}`)
    else if (failed !== undefined) add('access', 'fail', failureMessage(failed, `cannot check the token's access to site ${idsite}`))
    else add('access', 'fail', `the token's user has no write or admin access to site ${idsite} (view access is not enough): Matomo would count every hit with a client IP or an old time invalid. Give the user write access to site ${idsite} (Administration > System > Users), or use a super user's token`)
  }

  // 3. The site exists.
  const site = await apiCall(client, 'SitesManager.getSiteFromId', { idSite: String(idsite) }, token, context, options.signal)
  if (site.kind === 'value' && isObject(site.value)) add('site', 'ok', describeSite(idsite, site.value))
  else if (site.kind === 'error' && (site.reason === 'blocked' || site.reason === 'unreachable')) add('site', 'fail', failureMessage(site, `cannot check site ${idsite}`))
  else add('site', 'fail', `site ${idsite} is not there or not visible to this token${site.kind === 'error' ? ` (${site.message})` : ''}: check --idsite (Administration > Websites > Manage shows the ids)`)
  return finish(checks, isSuper)
}

/** One line per check, for `check` and the logs. */
export function formatPreflight (report: PreflightReport): string {
  const mark: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' }
  return report.checks.map((c) => `${mark[c.status]}  ${c.name}: ${c.message}`).join('\n') + '\n'
}

function finish (checks: PreflightCheck[], superUser: boolean | undefined): PreflightReport {
  return { checks, ok: checks.every((c) => c.status !== 'fail'), superUser }
}

/**
 * Why a Reporting API call failed: `auth` the token is unknown (401 "Unable to authenticate"), `blocked` Matomo's
 * brute-force protection refuses this IP, `access` a valid token lacks a permission (401 JSON), `unreachable` no
 * HTTP answer, `other` anything else (HTTP 200 `result: error`, 5xx, a page).
 */
type ApiFailureReason = 'auth' | 'blocked' | 'access' | 'unreachable' | 'other'
interface ApiFailure { kind: 'error', reason: ApiFailureReason, message: string }
type ApiResult = { kind: 'value', value: unknown } | ApiFailure

async function apiCall (client: BulkClient, method: string, params: Record<string, string>, token: string | undefined, context: ClassifyContext, signal: AbortSignal | undefined): Promise<ApiResult> {
  let answer: HttpAnswer
  try {
    answer = await client.callApi(method, params, token, signal)
  } catch (err) {
    if (!(err instanceof RequestFailure)) throw err
    return { kind: 'error', reason: 'unreachable', message: `cannot reach the Reporting API at ${client.endpoint.apiUrl}: ${err.message}` }
  }
  return classifyApiAnswer(answer, context)
}

/**
 * Both the HTTP status and `result == "error"` count: a bad token is HTTP 401 (JSON, or an HTML page depending
 * on the request layout), a blocked IP HTTP 500, and some errors are HTTP 200 with `result: error`.
 */
export function classifyApiAnswer (answer: HttpAnswer, context: ClassifyContext): ApiResult {
  const clean = (text: string): string => excerpt(redactSecrets(text, context.secrets).replace(/\s+/g, ' ').trim())
  let value: unknown
  let json = true
  try {
    value = JSON.parse(answer.body)
  } catch {
    json = false
  }
  const message = json && isObject(value) && value.result === 'error'
    ? clean(typeof value.message === 'string' ? value.message : 'error')
    : undefined
  const text = message ?? answer.body
  if (isBruteForceBlock(text)) return { kind: 'error', reason: 'blocked', message: `HTTP ${answer.status}: Too many failed logins` }
  if (answer.status === 401 && /Unable to authenticate|token_auth|authenticat/i.test(text)) {
    return { kind: 'error', reason: 'auth', message: message ?? `HTTP 401${snippet(answer, context)}` }
  }
  if (message !== undefined) return { kind: 'error', reason: answer.status === 401 || answer.status === 403 ? 'access' : 'other', message: answer.status === 200 ? message : `HTTP ${answer.status}: ${message}` }
  if (!json) return { kind: 'error', reason: 'other', message: `the Reporting API answered HTTP ${answer.status} without JSON${snippet(answer, context)}` }
  if (answer.status !== 200) return { kind: 'error', reason: 'other', message: `HTTP ${answer.status}${snippet(answer, context)}` }
  return { kind: 'value', value }
}

function failureMessage (failure: ApiFailure, what: string): string {
  if (failure.reason === 'blocked') return `${what}: ${failure.message}. ${BRUTE_FORCE_HELP}`
  return `${what}: ${failure.message}`
}

/** Matomo renders a scalar as {"value": x} in format=json; accept the bare value too. */
function unwrapValue (value: unknown): unknown {
  return isObject(value) && 'value' in value ? value.value : value
}

function idsOf (result: ApiResult): number[] {
  if (result.kind !== 'value') return []
  const value = unwrapValue(result.value)
  return Array.isArray(value) ? value.map(Number).filter(Number.isInteger) : []
}

function describeSite (idsite: number, site: Record<string, unknown>): string {
  const name = typeof site.name === 'string' ? ` "${site.name}"` : ''
  const url = typeof site.main_url === 'string' ? ` (${site.main_url})` : ''
  return `site ${idsite}${name}${url} exists`
}

function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
