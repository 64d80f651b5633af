// Seeded generator of access-log lines (pino-http, nginx-json in import_logs.py's layout, caddy, traefik) for the benchmarks.
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { pathToFileURL } from 'node:url'

export type BenchFormat = 'pino-http' | 'nginx-json' | 'caddy' | 'traefik'
export type BenchMix = 'pages' | 'realistic'

export const BENCH_FORMATS: readonly BenchFormat[] = ['pino-http', 'nginx-json', 'caddy', 'traefik']
export const BENCH_MIXES: readonly BenchMix[] = ['pages', 'realistic']

export interface GenerateOptions {
  format: BenchFormat
  mix: BenchMix
  lines: number
  /** Same seed, same options, same base time → byte-identical output. @default 1 */
  seed?: number
  /** Time of the last line, epoch ms. @default one minute ago */
  baseTimeMs?: number
  /** The lines are spread evenly over this span before baseTimeMs. @default one hour */
  spanMs?: number
}

/** One request, before it is written in a format. */
export interface GeneratedRequest {
  timeMs: number
  ip: string
  host: string
  method: string
  /** Path and query, as in nginx's $request_uri. */
  uri: string
  status: number
  referrer: string | undefined
  userAgent: string
  acceptLanguage: string
  bytes: number
  durationMs: number
  /** Offset of the logged local time from UTC, minutes (nginx-json, traefik). */
  offsetMinutes: number
}

/** mulberry32: tiny, fast, good enough to pick test data; not for anything secret. */
export function createRng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const BROWSERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0'
]
const BOTS = [
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  'Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)',
  'curl/8.5.0',
  'python-requests/2.31.0'
]
const LANGUAGES = ['en-US,en;q=0.9', 'de-DE,de;q=0.9,en;q=0.8', 'fr-FR,fr;q=0.9', 'es-ES,es;q=0.8,en;q=0.5', 'ja-JP,ja;q=0.9']
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliett', 'kilo', 'lima', 'mike', 'november', 'oscar', 'papa']
const STATIC = ['/static/css/site.css', '/static/js/app.js', '/static/js/vendor.js', '/img/logo.png', '/img/hero.jpg', '/fonts/inter.woff2', '/favicon.ico', '/robots.txt']
const OFFSETS_MINUTES = [0, 60, 120, -300, 330]
const HOST = 'www.example.org'

interface Pools {
  pages: string[]
  ips: string[]
}

function createPools (rng: () => number): Pools {
  const word = (): string => WORDS[Math.floor(rng() * WORDS.length)] as string
  const pages: string[] = ['/', '/about', '/contact', '/pricing']
  for (let i = 0; i < 1000; i++) {
    const kind = Math.floor(rng() * 4)
    if (kind === 0) pages.push(`/products/${1 + Math.floor(rng() * 5000)}`)
    else if (kind === 1) pages.push(`/blog/${2020 + Math.floor(rng() * 6)}/${word()}-${word()}-${word()}`)
    else if (kind === 2) pages.push(`/category/${word()}?page=${1 + Math.floor(rng() * 9)}&sort=${word()}`)
    else pages.push(`/search?q=${word()}+${word()}`)
  }
  const ips: string[] = []
  for (let i = 0; i < 2000; i++) {
    if (rng() < 0.15) ips.push(`2001:db8:${Math.floor(rng() * 65536).toString(16)}::${Math.floor(rng() * 65536).toString(16)}`)
    else ips.push(`${1 + Math.floor(rng() * 223)}.${Math.floor(rng() * 256)}.${Math.floor(rng() * 256)}.${1 + Math.floor(rng() * 254)}`)
  }
  return { pages, ips }
}

/** Yields `lines` requests, oldest first, each within [baseTimeMs - spanMs, baseTimeMs]. */
export function * generateRequests (options: Omit<GenerateOptions, 'format'>): Generator<GeneratedRequest> {
  const rng = createRng(options.seed ?? 1)
  const pools = createPools(rng)
  const base = options.baseTimeMs ?? Date.now() - 60_000
  const span = options.spanMs ?? 3_600_000
  const step = options.lines > 1 ? span / (options.lines - 1) : 0
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rng() * list.length)] as T
  for (let i = 0; i < options.lines; i++) {
    const timeMs = Math.round(base - span + i * step)
    let uri = pick(pools.pages)
    let status = 200
    let method = 'GET'
    let userAgent = pick(BROWSERS)
    let bytes = 2_000 + Math.floor(rng() * 60_000)
    let durationMs = 1 + Math.floor(rng() * 250)
    if (options.mix === 'realistic') {
      const r = rng()
      if (r < 0.35) {
        uri = pick(STATIC)
        bytes = 300 + Math.floor(rng() * 200_000)
        durationMs = Math.floor(rng() * 5)
      } else if (r < 0.45) {
        userAgent = pick(BOTS)
      } else if (r < 0.53) {
        status = pick([301, 302, 304, 304])
        bytes = status === 304 ? 0 : 180
      } else if (r < 0.59) {
        status = pick([404, 404, 403, 400])
        bytes = 150 + Math.floor(rng() * 2_000)
      } else if (r < 0.60) {
        status = 500
      } else if (r < 0.63) {
        method = pick(['POST', 'HEAD'])
      }
    }
    const referrer = rng() < 0.4 ? undefined : rng() < 0.7 ? `https://${HOST}${pick(pools.pages)}` : 'https://www.google.com/'
    yield {
      timeMs,
      ip: pick(pools.ips),
      host: HOST,
      method,
      uri,
      status,
      referrer,
      userAgent,
      acceptLanguage: pick(LANGUAGES),
      bytes,
      durationMs,
      offsetMinutes: pick(OFFSETS_MINUTES)
    }
  }
}

const pad2 = (n: number): string => (n < 10 ? '0' : '') + String(n)

/** `2024-03-10T10:00:00+01:00`: nginx's $time_iso8601, the only date form import_logs.py reads (no fraction, no Z). */
export function isoWithOffset (timeMs: number, offsetMinutes: number): string {
  const local = new Date(Math.floor(timeMs / 1000) * 1000 + offsetMinutes * 60_000)
  const sign = offsetMinutes < 0 ? '-' : '+'
  const abs = Math.abs(offsetMinutes)
  return `${local.getUTCFullYear()}-${pad2(local.getUTCMonth() + 1)}-${pad2(local.getUTCDate())}T${pad2(local.getUTCHours())}:${pad2(local.getUTCMinutes())}:${pad2(local.getUTCSeconds())}${sign}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`
}

/**
 * The nginx layout of peer-import-logs.md §1, key for key and in that order:
 * log_format matomo escape=json '{"ip":"$remote_addr","host":"$host","path":"$request_uri","status":"$status",
 * "referrer":"$http_referer","user_agent":"$http_user_agent","length":$bytes_sent,
 * "generation_time_milli":$request_time,"date":"$time_iso8601"}'
 */
export function nginxJsonLine (r: GeneratedRequest): string {
  return '{"ip":' + JSON.stringify(r.ip) +
    ',"host":' + JSON.stringify(r.host) +
    ',"path":' + JSON.stringify(r.uri) +
    ',"status":"' + String(r.status) + '"' +
    ',"referrer":' + JSON.stringify(r.referrer ?? '-') +
    ',"user_agent":' + JSON.stringify(r.userAgent) +
    ',"length":' + String(r.bytes) +
    // $request_time: seconds with millisecond resolution, written as a bare number.
    ',"generation_time_milli":' + (r.durationMs / 1000).toFixed(3) +
    ',"date":"' + isoWithOffset(r.timeMs, r.offsetMinutes) + '"}'
}

let pinoReqId = 0

/** pino-http with its default serializers. */
export function pinoHttpLine (r: GeneratedRequest): string {
  const headers: Record<string, string> = { host: r.host, 'user-agent': r.userAgent, accept: 'text/html,application/xhtml+xml', 'accept-language': r.acceptLanguage }
  if (r.referrer !== undefined) headers.referer = r.referrer
  headers['x-forwarded-for'] = r.ip
  const q = r.uri.indexOf('?')
  return JSON.stringify({
    level: r.status >= 500 ? 50 : r.status >= 400 ? 40 : 30,
    time: r.timeMs,
    pid: 4021,
    hostname: 'web-1',
    req: { id: ++pinoReqId, method: r.method, url: r.uri, query: q === -1 ? {} : Object.fromEntries(new URLSearchParams(r.uri.slice(q + 1))), params: {}, headers, remoteAddress: '::ffff:10.0.0.2', remotePort: 40_000 + (pinoReqId % 20_000) },
    res: { statusCode: r.status, headers: { 'content-type': 'text/html; charset=utf-8', 'content-length': String(r.bytes) } },
    responseTime: r.durationMs,
    msg: 'request completed'
  })
}

/** Caddy's JSON access log (http.log.access); `ts` in epoch seconds. */
export function caddyLine (r: GeneratedRequest): string {
  const headers: Record<string, string[]> = { 'User-Agent': [r.userAgent], Accept: ['text/html'], 'Accept-Language': [r.acceptLanguage] }
  if (r.referrer !== undefined) headers.Referer = [r.referrer]
  return JSON.stringify({
    level: 'info',
    ts: r.timeMs / 1000,
    logger: 'http.log.access.log0',
    msg: 'handled request',
    request: { remote_ip: r.ip, remote_port: '51234', client_ip: r.ip, proto: 'HTTP/2.0', method: r.method, host: r.host, uri: r.uri, headers, tls: { resumed: false, version: 772, cipher_suite: 4865, proto: 'h2', server_name: r.host } },
    bytes_read: 0,
    user_id: '',
    duration: r.durationMs / 1000,
    size: r.bytes,
    status: r.status,
    resp_headers: { Server: ['Caddy'], 'Content-Type': ['text/html; charset=utf-8'] }
  })
}

/** Traefik's JSON access log (default fields plus request headers); Duration in ns. */
export function traefikLine (r: GeneratedRequest): string {
  return JSON.stringify({
    ClientAddr: `${r.ip}:51234`,
    ClientHost: r.ip,
    ClientPort: '51234',
    ClientUsername: '-',
    DownstreamContentSize: r.bytes,
    DownstreamStatus: r.status,
    Duration: r.durationMs * 1_000_000,
    OriginContentSize: r.bytes,
    OriginDuration: r.durationMs * 900_000,
    OriginStatus: r.status,
    Overhead: r.durationMs * 100_000,
    RequestAddr: r.host,
    RequestContentSize: 0,
    RequestCount: 1,
    RequestHost: r.host,
    RequestMethod: r.method,
    RequestPath: r.uri,
    RequestPort: '-',
    RequestProtocol: 'HTTP/2.0',
    RequestScheme: 'https',
    RetryAttempts: 0,
    RouterName: 'web@docker',
    ServiceName: 'web@docker',
    StartUTC: new Date(r.timeMs).toISOString(),
    entryPointName: 'websecure',
    level: 'info',
    msg: '',
    'request_Accept-Language': r.acceptLanguage,
    request_Referer: r.referrer ?? '',
    'request_User-Agent': r.userAgent,
    time: isoWithOffset(r.timeMs, r.offsetMinutes)
  })
}

export const FORMAT_WRITERS: Readonly<Record<BenchFormat, (r: GeneratedRequest) => string>> = {
  'pino-http': pinoHttpLine,
  'nginx-json': nginxJsonLine,
  caddy: caddyLine,
  traefik: traefikLine
}

/** Yields the lines (without newline). */
export function * generateLines (options: GenerateOptions): Generator<string> {
  pinoReqId = 0
  const write = FORMAT_WRITERS[options.format]
  for (const r of generateRequests(options)) yield write(r)
}

/** Writes the lines to a file, newline-terminated; resolves with the byte count. */
export async function writeLogFile (path: string, options: GenerateOptions): Promise<number> {
  const out = createWriteStream(path)
  let bytes = 0
  let chunk = ''
  for (const line of generateLines(options)) {
    chunk += line + '\n'
    if (chunk.length >= 1 << 20) {
      bytes += Buffer.byteLength(chunk)
      if (!out.write(chunk)) await once(out, 'drain')
      chunk = ''
    }
  }
  bytes += Buffer.byteLength(chunk)
  out.end(chunk)
  await once(out, 'finish')
  return bytes
}

function parseCli (args: readonly string[]): GenerateOptions & { out: string | undefined } {
  const get = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`)
    return i === -1 ? undefined : args[i + 1]
  }
  const format = (get('format') ?? 'nginx-json') as BenchFormat
  const mix = (get('mix') ?? 'pages') as BenchMix
  if (!BENCH_FORMATS.includes(format)) throw new Error(`--format must be one of ${BENCH_FORMATS.join(', ')}`)
  if (!BENCH_MIXES.includes(mix)) throw new Error(`--mix must be one of ${BENCH_MIXES.join(', ')}`)
  const base = get('base-time-ms')
  return {
    format,
    mix,
    lines: Number(get('lines') ?? 1000),
    seed: Number(get('seed') ?? 1),
    baseTimeMs: base === undefined ? undefined : Number(base),
    out: get('out')
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href
if (isMain) {
  // tsx bench/generate.ts --format nginx-json --mix pages --lines 100000 [--seed 1] [--base-time-ms N] [--out FILE]
  const options = parseCli(process.argv.slice(2))
  if (options.out !== undefined) {
    const bytes = await writeLogFile(options.out, options)
    console.error(`wrote ${options.lines} ${options.format} lines (${options.mix}, ${bytes} bytes) to ${options.out}`)
  } else {
    for (const line of generateLines(options)) {
      if (!process.stdout.write(line + '\n')) await once(process.stdout, 'drain')
    }
  }
}
