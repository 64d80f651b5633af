// Keep-alive connection pools for POSTs to Matomo: node:http/https agents, or undici's EnvHttpProxyAgent when a proxy is set.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'

/** An answer's status, headers and body stream (read by the caller, which may stop early with destroy()). */
export interface RawAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: AsyncIterable<Buffer> & { destroy: () => unknown }
  /** False when the body ended before its end (the connection closed or was cut mid-answer); undici throws instead. */
  readonly complete?: () => boolean
}

export interface Transport {
  /** POSTs `body`; rejects (with the system or undici error) when no answer came. */
  post: (url: string, headers: Readonly<Record<string, string>>, body: Buffer | string, signal: AbortSignal, timeoutMs: number) => Promise<RawAnswer>
  close: () => Promise<void>
}

export interface TransportOptions {
  /** PEM text of a private CA (--ca-file). */
  ca?: string | undefined
  /** Skip TLS verification (--insecure). */
  insecure?: boolean
  /** Where HTTP_PROXY / HTTPS_PROXY / NO_PROXY are read from (any case). */
  env: Readonly<Record<string, string | undefined>>
  /** Sockets per origin. */
  connections: number
  /** Idle keep-alive sockets are closed after this. @default IDLE_SOCKET_MS */
  idleSocketMs?: number
}

/** TLS settings from --ca-file and --insecure, as both node:https and undici take them. */
interface TlsOptions { ca?: string, rejectUnauthorized?: boolean }

/**
 * Idle keep-alive sockets are closed after this, before a typical server (Apache: 5 s) closes them under us.
 * Only idle ones: Node's agent destroys a socket on this timeout only while it is in the free list, so a slow
 * answer is bounded by --request-timeout-ms alone.
 */
export const IDLE_SOCKET_MS = 4000

/**
 * Without a proxy: node:http/https with keep-alive agents. undici (the proxy path) compiles its WebAssembly HTTP
 * parser on the first request: measured +0.35 s and +35 MiB peak RSS per run, for nothing a direct POST needs.
 */
export async function createTransport (options: TransportOptions): Promise<Transport> {
  const tls: TlsOptions = {}
  if (options.ca !== undefined) tls.ca = options.ca
  if (options.insecure === true) tls.rejectUnauthorized = false
  const env = options.env
  const httpProxy = env.HTTP_PROXY ?? env.http_proxy
  const httpsProxy = env.HTTPS_PROXY ?? env.https_proxy
  if (nonEmpty(httpProxy) || nonEmpty(httpsProxy)) {
    return await proxyTransport(options, tls, nonEmpty(httpProxy) ? httpProxy : undefined, nonEmpty(httpsProxy) ? httpsProxy : undefined)
  }
  return nodeTransport(options.connections, options.idleSocketMs ?? IDLE_SOCKET_MS, tls)
}

/** Errors of a request written to a reused keep-alive socket that the server had closed. */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE'])

class StaleSocketError extends Error {
  constructor (cause: Error) {
    super(cause.message, { cause })
  }
}

function nodeTransport (connections: number, idleSocketMs: number, tls: TlsOptions): Transport {
  const agentOptions = { keepAlive: true, maxSockets: connections, timeout: idleSocketMs }
  const http = new HttpAgent(agentOptions)
  const https = new HttpsAgent({ ...agentOptions, ...tls })
  const once = async (url: string, headers: Readonly<Record<string, string>>, body: Buffer | string, signal: AbortSignal): Promise<RawAnswer> => {
    const secure = url.startsWith('https:')
    return await new Promise<RawAnswer>((resolve, reject) => {
      const send = secure ? httpsRequest : httpRequest
      const req = send(url, {
        method: 'POST',
        agent: secure ? https : http,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        signal
      }, (res: IncomingMessage) => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers as IncomingHttpHeaders, body: res, complete: () => res.complete })
      })
      req.on('error', (err: NodeJS.ErrnoException) => {
        reject(req.reusedSocket && STALE_SOCKET_CODES.has(err.code ?? '') ? new StaleSocketError(err) : err)
      })
      req.end(body)
    })
  }
  return {
    async post (url, headers, body, signal) {
      // A kept-alive socket the server closed while it was idle fails the next request at once (Node's documented
      // race): it goes again at once, not as a retry with backoff that also halves the number in flight. Once only:
      // the same error also comes from a server that took the request and then reset the connection, and such a
      // server must not get the batch again and again without a pause (later failures take the normal retry path).
      try {
        return await once(url, headers, body, signal)
      } catch (err) {
        if (!(err instanceof StaleSocketError)) throw err
        if (signal.aborted) throw err.cause
      }
      try {
        return await once(url, headers, body, signal)
      } catch (err) {
        throw err instanceof StaleSocketError ? err.cause : err
      }
    },
    async close () {
      http.destroy()
      https.destroy()
    }
  }
}

async function proxyTransport (options: TransportOptions, tls: TlsOptions, httpProxy: string | undefined, httpsProxy: string | undefined): Promise<Transport> {
  const { EnvHttpProxyAgent, Pool, request } = await import('undici')
  const dispatcher = new EnvHttpProxyAgent({
    // http:// targets as absolute-form requests (what curl does), not CONNECT tunnels, which simple proxies lack.
    proxyTunnel: false,
    // undici 7 reconnects in a tight loop, deaf to aborts, when a proxy drops the connection while a CONNECT
    // tunnel is being set up (nodejs/undici#3897, fixed in 8): any other error code fails the request instead.
    clientFactory: (origin: URL, clientOptions: object) => failTunnelDrops(new Pool(origin, clientOptions)),
    connections: options.connections,
    keepAliveTimeout: options.idleSocketMs ?? IDLE_SOCKET_MS,
    connect: tls,
    requestTls: tls,
    httpProxy,
    httpsProxy,
    noProxy: options.env.NO_PROXY ?? options.env.no_proxy ?? ''
  })
  return {
    async post (url, headers, body, signal, timeoutMs) {
      const response = await request(url, {
        method: 'POST',
        dispatcher,
        headers,
        body,
        signal,
        // The overall deadline is the caller's abort signal; these only stop undici's own shorter defaults from firing.
        headersTimeout: timeoutMs + 1000,
        bodyTimeout: timeoutMs + 1000
      })
      return { status: response.statusCode, headers: response.headers, body: response.body }
    },
    async close () {
      await dispatcher.close()
    }
  }
}

/** An error with a code undici's client does not retry on its own (UND_ERR_SOCKET re-drives connect() forever). */
class ProxyTunnelError extends Error {
  readonly code = 'MF_PROXY_TUNNEL'
}

function failTunnelDrops<T extends { connect: (...args: never[]) => unknown }> (pool: T): T {
  const connect = pool.connect.bind(pool) as (options: unknown) => Promise<unknown>
  const wrapped = async (options: unknown): Promise<unknown> => {
    try {
      return await connect(options)
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'UND_ERR_SOCKET') throw err
      throw new ProxyTunnelError(`the proxy closed the connection while setting up a CONNECT tunnel (${(err as Error).message}): does it allow CONNECT to this host and port?`, { cause: err })
    }
  }
  ;(pool as { connect: unknown }).connect = wrapped
  return pool
}

function nonEmpty (value: string | undefined): value is string {
  return value !== undefined && value !== ''
}
