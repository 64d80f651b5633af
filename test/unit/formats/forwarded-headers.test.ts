// X-Forwarded-Host / -Proto in every format that logs them, believed by the X-Forwarded-For rule of --trusted-proxy.
import { describe, test } from 'node:test'
import { caddy } from '../../../src/formats/caddy.js'
import { createParseContext } from '../../../src/formats/format.js'
import { nginxJson } from '../../../src/formats/nginx-json.js'
import { pinoHttp } from '../../../src/formats/pino-http.js'
import { traefik } from '../../../src/formats/traefik.js'
import { createForwardingTrust } from '../../../src/mapping/client-ip.js'
import { checkResult, parseWith } from '../../helpers/format-cases.js'

describe('forwarding headers under --trusted-proxy (the X-Forwarded-For rule)', () => {
  const context = createParseContext({ trustsForwardingFrom: createForwardingTrust(['10.0.0.0/8']) })
  const nginx = { remote_addr: '10.0.0.2', host: 'internal', http_x_forwarded_host: 'www.example.org', http_x_forwarded_proto: 'https', scheme: 'http', request_uri: '/a', status: 200, time_iso8601: '2025-11-25T10:00:00Z' }
  test('believed from a trusted proxy, ignored from anyone else, in every format that logs them', () => {
    checkResult(parseWith(nginxJson, nginx, context), { host: 'www.example.org', scheme: 'https' })
    checkResult(parseWith(nginxJson, { ...nginx, remote_addr: '203.0.113.7' }, context), { host: 'internal', scheme: 'http' })
    const pino = { level: 30, time: 1764064800000, req: { method: 'GET', url: '/a', remoteAddress: '203.0.113.7', headers: { host: 'internal', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } }, res: { statusCode: 200 } }
    checkResult(parseWith(pinoHttp, pino, context), { host: 'internal', scheme: undefined })
    checkResult(parseWith(pinoHttp, { ...pino, req: { ...pino.req, remoteAddress: '::ffff:10.1.2.3' } }, context), { host: 'evil.example', scheme: 'https' })
    const traefikLine = { ClientHost: '203.0.113.7', DownstreamStatus: 200, RequestHost: 'h', RequestPath: '/x', RequestScheme: 'http', StartUTC: '2025-11-25T10:00:00Z', 'request_X-Forwarded-Host': 'evil.example' }
    checkResult(parseWith(traefik, traefikLine, context), { host: 'h', scheme: 'http' })
    const caddyLine = { ts: 1764064800.5, status: 200, request: { remote_ip: '203.0.113.7', client_ip: '203.0.113.7', host: 'h.example', uri: '/x', headers: { 'X-Forwarded-Host': ['evil.example'] } } }
    checkResult(parseWith(caddy, caddyLine, context), { host: 'h.example' })
    // Caddy's own trusted_proxies resolved the client: its forwarding headers were trusted by Caddy.
    checkResult(parseWith(caddy, { ...caddyLine, request: { ...caddyLine.request, client_ip: '198.51.100.1' } }, context), { host: 'evil.example' })
  })
  test('without --trusted-proxy they are believed, as X-Forwarded-For is', () => {
    checkResult(parseWith(nginxJson, { ...nginx, remote_addr: '203.0.113.7' }), { host: 'www.example.org', scheme: 'https' })
  })
})
