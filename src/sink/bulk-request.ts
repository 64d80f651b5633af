// HTTP to Matomo: POSTs one bulk tracking body (or one Reporting API call) over a keep-alive connection pool.
import { readFileSync } from 'node:fs'
import { brotliDecompressSync, constants as zlibConstants, gunzipSync, inflateSync } from 'node:zlib'
import { USER_AGENT } from '../version.js'
import { createTransport, type Transport } from './http-transport.js'

/** Where to send, derived once from --matomo-url. The token never goes into any of these URLs. */
export interface MatomoEndpoint {
  /** The tracking URL without userinfo, with `queuedtracking=0` in the query. */
  readonly trackingUrl: string
  /** The Reporting API URL (index.php beside matomo.php), without userinfo. */
  readonly apiUrl: string
  /** For messages: the tracking URL without userinfo and without query. */
  readonly display: string
  /** `Basic …` from the URL's userinfo, or undefined. */
  readonly authorization: string | undefined
  /** The basic-auth credentials in every form an answer could echo them (as written, decoded, base64): redacted from messages. */
  readonly credentials: readonly string[]
}

/** Splits --matomo-url into the URLs we call and the basic-auth header; userinfo never appears in a message. */
export function parseMatomoUrl (matomoUrl: string): MatomoEndpoint {
  const url = new URL(matomoUrl)
  let authorization: string | undefined
  const secretParts: string[] = []
  if (url.username !== '' || url.password !== '') {
    const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
    const base64 = Buffer.from(credentials, 'utf8').toString('base64')
    authorization = 'Basic ' + base64
    // The user name alone is not secret; the password and anything holding it are.
    if (url.password !== '') secretParts.push(url.password, decodeURIComponent(url.password), credentials, base64)
    url.username = ''
    url.password = ''
  }
  url.hash = ''
  const display = url.origin + url.pathname
  // QueuedTracking reads this from $_GET/$_POST only, so for a bulk body it must be in the query string.
  url.searchParams.set('queuedtracking', '0')
  const trackingUrl = url.toString()
  const api = new URL(display)
  api.pathname = api.pathname.replace(/[^/]*$/, 'index.php')
  return { trackingUrl, apiUrl: api.toString(), display, authorization, credentials: secretParts }
}

/** `{"requests":[` — bulkOverheadBytes counts it. */
const BODY_HEAD = '{"requests":['

/**
 * The bytes of one bulk body. `items` are the JSON texts of the hits' params; `itemBytes` their UTF-8 bytes plus
 * the commas between them, when the caller already counted them. Never carries send_image. Each item is encoded
 * straight into one buffer: joining 200 items into one string and encoding that for the socket cost a flattened
 * copy, a byte count and a second encoding per request (bench/README.md).
 */
export function buildBulkBody (items: readonly string[], tokenJson: string | undefined, itemBytes = countItemBytes(items)): Buffer {
  const tail = tokenJson === undefined ? ']}' : '],"token_auth":' + tokenJson + '}'
  const body = Buffer.allocUnsafe(bulkOverheadBytes(tokenJson) + itemBytes)
  const itemsEnd = body.length - Buffer.byteLength(tail)
  let offset = body.write(BODY_HEAD, 0, 'latin1')
  for (let i = 0; i < items.length; i++) {
    if (i > 0) body[offset++] = 0x2c
    offset += body.write(items[i] as string, offset, 'utf8')
  }
  // A wrong count would send a truncated body (write() cuts silently) or uninitialised memory: never.
  if (offset !== itemsEnd) throw new RangeError(`bulk body items of ${offset - BODY_HEAD.length} bytes, ${itemBytes} expected`)
  body.write(tail, offset, 'utf8')
  return body
}

/** UTF-8 bytes of the items plus the commas between them. */
export function countItemBytes (items: readonly string[]): number {
  let bytes = items.length === 0 ? 0 : items.length - 1
  for (const item of items) bytes += Buffer.byteLength(item)
  return bytes
}

/** Bytes of a bulk body around its items: `{"requests":[` `]` `,"token_auth":…` `}`. */
export function bulkOverheadBytes (tokenJson: string | undefined): number {
  return BODY_HEAD.length + 2 + (tokenJson === undefined ? 0 : 14 + Buffer.byteLength(tokenJson))
}

/** What came back: status, type and (at most MAX_BODY_CHARS of) the body text. */
export interface HttpAnswer {
  readonly status: number
  /** Lower-cased media type without parameters, '' if none. */
  readonly contentType: string
  readonly body: string
  /** The Retry-After header as sent, if any. */
  readonly retryAfter: string | undefined
  readonly elapsedMs: number
}

export type RequestFailureKind = 'timeout' | 'network' | 'tls' | 'aborted'

/** No HTTP answer at all: the request timed out, the connection failed, TLS failed, or we aborted it. */
export class RequestFailure extends Error {
  readonly kind: RequestFailureKind
  /** The system or undici error code (ECONNRESET, UND_ERR_SOCKET, CERT_HAS_EXPIRED...), if any. */
  readonly errorCode: string | undefined

  constructor (kind: RequestFailureKind, message: string, errorCode: string | undefined, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'RequestFailure'
    this.kind = kind
    this.errorCode = errorCode
  }
}

export interface BulkClientOptions {
  /** The normalised --matomo-url (may carry user:password@). */
  matomoUrl: string
  timeoutMs: number
  /** PEM file of a private CA (--ca-file). */
  caFile?: string | undefined
  /** Skip TLS verification (--insecure). The caller warns. */
  insecure?: boolean
  /** Where HTTP_PROXY / HTTPS_PROXY / NO_PROXY are read from (any case). @default process.env */
  env?: Readonly<Record<string, string | undefined>>
  /** Sockets per origin. @default 16 */
  connections?: number
  /** Idle keep-alive sockets are closed after this (tests). @default IDLE_SOCKET_MS */
  idleSocketMs?: number
}

export interface BulkClient {
  readonly endpoint: MatomoEndpoint
  /** POSTs a bulk body to the tracking URL. Throws RequestFailure when no HTTP answer came. */
  sendBulk: (body: Buffer | string, signal?: AbortSignal) => Promise<HttpAnswer>
  /**
   * Calls the Reporting API: `POST index.php?module=API&format=json&method=…` with the token and `params` in the
   * form body. The token never goes in the URL (it would end up in access logs). `method` must stay in the query
   * string: with everything in the body, Matomo 5 answers a bad token with an HTML page instead of JSON.
   */
  callApi: (method: string, params: Readonly<Record<string, string>>, token: string | undefined, signal?: AbortSignal) => Promise<HttpAnswer>
  close: () => Promise<void>
}

/** Bodies longer than this are cut: a Matomo answer is small; anything longer is a page, read only for a message. */
const MAX_BODY_CHARS = 1024 * 1024

const TLS_CODES = /^(?:CERT_|ERR_TLS_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_SSL_)/

export function createBulkClient (options: BulkClientOptions): BulkClient {
  const endpoint = parseMatomoUrl(options.matomoUrl)
  const ca = options.caFile === undefined ? undefined : readFileSync(options.caFile, 'utf8')
  // Resolves at once without a proxy; with one, after undici is loaded.
  const pending = createTransport({ ca, insecure: options.insecure, env: options.env ?? process.env, connections: options.connections ?? 16, idleSocketMs: options.idleSocketMs })
  // Its failure (undici not loadable) is reported by the first request or close(), not as an unhandled rejection.
  pending.catch(() => undefined)
  let transport: Transport | undefined
  const baseHeaders: Record<string, string> = { 'user-agent': USER_AGENT }
  if (endpoint.authorization !== undefined) baseHeaders.authorization = endpoint.authorization

  async function post (url: string, body: Buffer | string, contentType: string, signal: AbortSignal | undefined): Promise<HttpAnswer> {
    const timeout = new AbortController()
    const timer = setTimeout(() => { timeout.abort() }, options.timeoutMs)
    const combined = signal === undefined ? timeout.signal : AbortSignal.any([timeout.signal, signal])
    const started = performance.now()
    try {
      transport ??= await pending
      const response = await transport.post(url, { ...baseHeaders, 'content-type': contentType }, body, combined, options.timeoutMs)
      const { bytes, stoppedEarly } = await readBody(response.body)
      const text = decodedText(bytes, headerValue(response.headers['content-encoding']))
      // A body cut off by our timeout or by the peer ends like a whole one (without Content-Length, only the
      // close says where it ends): half an answer is no answer, and must be retried, not judged. (An endless
      // answer we stopped reading ourselves is a page, judged by its first MiB.)
      if (timeout.signal.aborted || signal?.aborted === true || (!stoppedEarly && response.complete?.() === false)) throw new Error('the answer was cut off before its end')
      const type = headerValue(response.headers['content-type'])
      return {
        status: response.status,
        contentType: (type ?? '').split(';', 1)[0]!.trim().toLowerCase(),
        body: text,
        retryAfter: headerValue(response.headers['retry-after']),
        elapsedMs: performance.now() - started
      }
    } catch (err) {
      if (timeout.signal.aborted) throw new RequestFailure('timeout', `no answer within --request-timeout-ms ${options.timeoutMs}`, undefined, err)
      if (signal?.aborted === true) throw new RequestFailure('aborted', 'request aborted (shutting down)', undefined, err)
      const code = errorCodeOf(err)
      const kind: RequestFailureKind = code !== undefined && TLS_CODES.test(code) ? 'tls' : 'network'
      throw new RequestFailure(kind, describeNetworkError(err, code), code, err)
    } finally {
      clearTimeout(timer)
    }
  }

  return {
    endpoint,
    sendBulk: async (body, signal) => await post(endpoint.trackingUrl, body, 'application/json', signal),
    async callApi (method, params, token, signal) {
      const url = new URL(endpoint.apiUrl)
      url.searchParams.set('module', 'API')
      url.searchParams.set('format', 'json')
      url.searchParams.set('method', method)
      const form = new URLSearchParams(params)
      if (token !== undefined) form.set('token_auth', token)
      return await post(url.toString(), form.toString(), 'application/x-www-form-urlencoded', signal)
    },
    async close () {
      await (transport ?? await pending).close()
    }
  }
}

/** Decoders for the encodings a proxy may apply although we ask for none (no Accept-Encoding). */
const gunzipBody = (b: Buffer): Buffer => gunzipSync(b, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: MAX_BODY_CHARS })
const DECODERS: Readonly<Record<string, (bytes: Buffer) => Buffer>> = {
  gzip: gunzipBody,
  'x-gzip': gunzipBody,
  deflate: (b) => inflateSync(b, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: MAX_BODY_CHARS }),
  br: (b) => brotliDecompressSync(b, { maxOutputLength: MAX_BODY_CHARS })
}

/**
 * The answer's text before its Content-Encoding: an answer a proxy compressed anyway would be judged "not JSON"
 * and stop the run after Matomo stored the batch. A body that does not decode (labelled but not encoded, empty,
 * an unknown encoding) is judged as it came: an answer is there, and it is never a reason to send the batch again.
 */
function decodedText (bytes: Buffer, encoding: string | undefined): string {
  const decode = encoding === undefined || bytes.length === 0 ? undefined : DECODERS[encoding.trim().toLowerCase()]
  if (decode !== undefined) {
    try {
      return decode(bytes).toString('utf8')
    } catch {
      // Not what its label says: judged as it came.
    }
  }
  return bytes.toString('utf8')
}

/** The body, at most MAX_BODY_CHARS bytes; `stoppedEarly` when it was longer and we stopped reading it. */
async function readBody (body: AsyncIterable<Buffer> & { destroy: () => unknown }): Promise<{ bytes: Buffer, stoppedEarly: boolean }> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    chunks.push(chunk)
    size += chunk.length
    if (size >= MAX_BODY_CHARS) {
      body.destroy()
      return { bytes: Buffer.concat(chunks).subarray(0, MAX_BODY_CHARS), stoppedEarly: true }
    }
  }
  return { bytes: Buffer.concat(chunks), stoppedEarly: false }
}

function headerValue (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function errorCodeOf (err: unknown): string | undefined {
  let current: unknown = err
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code
    if (typeof code === 'string' && (current as { cause?: unknown }).cause === undefined) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

function describeNetworkError (err: unknown, code: string | undefined): string {
  const message = err instanceof Error ? err.message : String(err)
  return code === undefined || message.includes(code) ? message : `${code}: ${message}`
}
