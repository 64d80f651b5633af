// The HTTP client: URL handling, headers, basic auth from userinfo, keep-alive, TLS, timeouts, resets, proxies.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer, request as httpRequest, type Server } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import { once } from 'node:events'
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { describe, test, type TestContext } from 'node:test'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { buildBulkBody, bulkOverheadBytes, countItemBytes, createBulkClient, parseMatomoUrl, RequestFailure } from '../../../src/sink/bulk-request.js'
import { startFakeMatomo } from '../../helpers/fake-matomo.js'
import { waitFor } from '../../helpers/wait-for.js'

/** A minimal forward proxy on 127.0.0.1: absolute-form requests, and CONNECT tunnels when `tunnels`. */
async function startForwardProxy (t: TestContext, options: { tunnels: boolean, seen?: string[] }): Promise<{ proxy: Server, proxyUrl: string }> {
  const proxy = createServer((req, res) => {
    options.seen?.push(`${req.method ?? ''} ${req.url ?? ''}`)
    const target = new URL(req.url ?? '')
    const upstream = httpRequest({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    req.pipe(upstream)
  })
  if (options.tunnels) {
    proxy.on('connect', (req, socket, head) => {
      options.seen?.push(`CONNECT ${req.url ?? ''}`)
      const [host, port] = (req.url ?? '').split(':')
      const upstream = connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        upstream.write(head)
        upstream.pipe(socket)
        socket.pipe(upstream)
      })
    })
  }
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.after(() => { proxy.closeAllConnections(); proxy.close() })
  return { proxy, proxyUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` }
}

describe('parseMatomoUrl', () => {
  test('moves userinfo into a Basic header and puts queuedtracking=0 in the query', () => {
    const e = parseMatomoUrl('https://us%40er:p%3Ass@matomo.example.org/sub/matomo.php?x=1')
    assert.equal(e.trackingUrl, 'https://matomo.example.org/sub/matomo.php?x=1&queuedtracking=0')
    assert.equal(e.apiUrl, 'https://matomo.example.org/sub/index.php')
    assert.equal(e.display, 'https://matomo.example.org/sub/matomo.php')
    assert.equal(e.authorization, 'Basic ' + Buffer.from('us@er:p:ss').toString('base64'))
  })
})

describe('buildBulkBody', () => {
  test('builds the JSON body, never with send_image, and its overhead is exact', () => {
    const items = ['{"a":1}', '{"b":"é"}']
    const token = JSON.stringify('tok')
    const body = buildBulkBody(items, token)
    assert.deepEqual(JSON.parse(body.toString()), { requests: [{ a: 1 }, { b: 'é' }], token_auth: 'tok' })
    const itemBytes = Buffer.byteLength(items.join(','))
    assert.equal(countItemBytes(items), itemBytes)
    assert.equal(body.length, bulkOverheadBytes(token) + itemBytes)
    assert.equal(buildBulkBody(items, undefined).length, bulkOverheadBytes(undefined) + itemBytes)
    assert.deepEqual(JSON.parse(buildBulkBody([], undefined).toString()), { requests: [] })
    assert.deepEqual(buildBulkBody(items, token, itemBytes), body)
  })

  test('encodes any text exactly (multi-byte and astral characters, escapes) and refuses a wrong byte count', () => {
    fc.assert(fc.property(fc.array(fc.dictionary(fc.string({ unit: 'grapheme' }), fc.oneof(fc.string({ unit: 'binary' }), fc.integer())), { maxLength: 8 }), (objects) => {
      const items = objects.map((o) => JSON.stringify(o))
      assert.deepEqual(buildBulkBody(items, '"t"'), Buffer.from('{"requests":[' + items.join(',') + '],"token_auth":"t"}', 'utf8'))
    }))
    for (const wrong of [8, 9, 11]) assert.throws(() => buildBulkBody(['{"a":"é"}'], undefined, wrong), RangeError)
    assert.equal(buildBulkBody(['{"a":"é"}'], undefined, 10).toString(), '{"requests":[{"a":"é"}]}')
  })
})

describe('createBulkClient', () => {
  test('POSTs JSON with our User-Agent and basic auth, and no userinfo in the request', async (t) => {
    const matomo = await startFakeMatomo()
    t.after(async () => { await matomo.close() })
    const client = createBulkClient({ matomoUrl: matomo.url.replace('http://', 'http://alice:s3cret@'), timeoutMs: 2000 })
    t.after(async () => { await client.close() })
    const answer = await client.sendBulk(buildBulkBody([], undefined))
    assert.equal(answer.status, 200)
    assert.equal(answer.contentType, 'application/json')
    const r = matomo.requests[0]!
    assert.equal(r.method, 'POST')
    assert.equal(r.headers['content-type'], 'application/json')
    assert.match(String(r.headers['user-agent']), /^matomo-forward\//)
    assert.equal(r.headers.authorization, 'Basic ' + Buffer.from('alice:s3cret').toString('base64'))
    assert.equal(r.query.queuedtracking, '0')
  })

  test('puts the API token in the POST body, not the URL', async (t) => {
    const matomo = await startFakeMatomo()
    t.after(async () => { await matomo.close() })
    const client = createBulkClient({ matomoUrl: matomo.url, timeoutMs: 2000 })
    t.after(async () => { await client.close() })
    await client.callApi('UsersManager.hasSuperUserAccess', {}, 'tok123')
    const r = matomo.requests[0]!
    assert.equal(r.path, '/index.php')
    assert.equal(r.query.method, 'UsersManager.hasSuperUserAccess')
    assert.equal(r.query.token_auth, undefined)
    assert.equal(new URLSearchParams(r.body).get('token_auth'), 'tok123')
  })

  test('keeps one connection alive for sequential requests and cuts an endless answer at 1 MiB', async (t) => {
    const sockets = new Set<unknown>()
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        if (req.url?.includes('big') === true) {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
          const chunk = 'x'.repeat(64 * 1024)
          // Writes until the client hangs up: the client must stop reading on its own.
          const pump = (): void => { while (res.write(chunk)) { /* fill */ } }
          res.on('drain', pump)
          pump()
          return
        }
        res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '7' })
        res.end('{"status":"success","tracked":0,"invalid":0}')
      })
    })
    server.on('connection', (socket) => sockets.add(socket))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => { server.closeAllConnections(); server.close() })
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/matomo.php`
    const client = createBulkClient({ matomoUrl: url, timeoutMs: 5000 })
    t.after(async () => { await client.close() })
    for (let i = 0; i < 3; i++) {
      const answer = await client.sendBulk('{"requests":[]}')
      assert.equal(answer.status, 200)
      assert.equal(answer.retryAfter, '7')
      assert.equal(answer.body, '{"status":"success","tracked":0,"invalid":0}')
    }
    assert.equal(sockets.size, 1)
    const big = createBulkClient({ matomoUrl: url + '?big=1', timeoutMs: 5000 })
    t.after(async () => { await big.close() })
    const answer = await big.sendBulk('{"requests":[]}')
    assert.equal(answer.contentType, 'text/html')
    assert.equal(answer.body.length, 1024 * 1024)
  })

  test('an answer slower than the idle-socket timeout still arrives; an idle socket is closed after it', async (t) => {
    const closed: number[] = []
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"success","tracked":0,"invalid":0}') }, 400)
      })
    })
    server.on('connection', (socket) => { socket.on('close', () => { closed.push(Date.now()) }) })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => { server.closeAllConnections(); server.close() })
    const client = createBulkClient({ matomoUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/matomo.php`, timeoutMs: 5000, idleSocketMs: 100 })
    t.after(async () => { await client.close() })
    // 400 ms without a byte on the socket: four idle timeouts while the request is in flight.
    assert.equal((await client.sendBulk('{"requests":[]}')).status, 200)
    assert.deepEqual(closed, [], 'the socket survived its slow answer')
    await waitFor('the idle socket closed', () => closed.length === 1, { timeoutMs: 3000 })
  })

  test('verifies TLS: fails without the CA, succeeds with --ca-file or --insecure', async (t) => {
    const tls = (name: string): URL => new URL(`../../../fixtures/tls/${name}`, import.meta.url)
    const server = createTlsServer({ key: readFileSync(tls('server.key')), cert: readFileSync(tls('server.pem')) }, (req, res) => {
      req.resume()
      req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"success","tracked":0,"invalid":0}') })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => { server.closeAllConnections(); server.close() })
    const matomoUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}/matomo.php`
    const untrusting = createBulkClient({ matomoUrl, timeoutMs: 5000 })
    t.after(async () => { await untrusting.close() })
    await assert.rejects(untrusting.sendBulk('{"requests":[]}'), (err: unknown) => err instanceof RequestFailure && err.kind === 'tls' && err.errorCode !== undefined)
    const withCa = createBulkClient({ matomoUrl, timeoutMs: 5000, caFile: tls('ca.pem').pathname })
    t.after(async () => { await withCa.close() })
    assert.equal((await withCa.sendBulk('{"requests":[]}')).status, 200)
    const insecure = createBulkClient({ matomoUrl, timeoutMs: 5000, insecure: true })
    t.after(async () => { await insecure.close() })
    assert.equal((await insecure.sendBulk('{"requests":[]}')).status, 200)
  })

  test('turns a slow answer into a timeout and a reset into a network failure', async (t) => {
    const matomo = await startFakeMatomo()
    t.after(async () => { await matomo.close() })
    const client = createBulkClient({ matomoUrl: matomo.url, timeoutMs: 150 })
    t.after(async () => { await client.close() })
    matomo.enqueue({ kind: 'slow', delayMs: 1000 }, { kind: 'reset' })
    await assert.rejects(client.sendBulk('{"requests":[]}'), (err: unknown) => err instanceof RequestFailure && err.kind === 'timeout')
    await assert.rejects(client.sendBulk('{"requests":[]}'), (err: unknown) => err instanceof RequestFailure && err.kind === 'network')
  })

  test('an answer cut off mid-body (no Content-Length, then a stall or a close) is a timeout or a network failure, not an answer', async (t) => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'
    const behaviours = {
      // Without Content-Length the body ends at the close: our timeout cutting it must not look like its end.
      stall: (socket: Socket) => { socket.write(head + 'Connection: close\r\n\r\n{"status":"success",') },
      chunkedClose: (socket: Socket) => { socket.end(head + 'Transfer-Encoding: chunked\r\n\r\n14\r\n{"status":"success",\r\n') }
    }
    let behaviour: keyof typeof behaviours = 'stall'
    const server = createNetServer((socket) => {
      socket.once('data', () => { behaviours[behaviour](socket) })
      socket.on('error', () => undefined)
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    t.after(() => { server.close() })
    const client = createBulkClient({ matomoUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/matomo.php`, timeoutMs: 300 })
    t.after(async () => { await client.close() })
    await assert.rejects(client.sendBulk('{"requests":[]}'), (err: unknown) => err instanceof RequestFailure && err.kind === 'timeout')
    behaviour = 'chunkedClose'
    await assert.rejects(client.sendBulk('{"requests":[]}'), (err: unknown) => err instanceof RequestFailure && err.kind === 'network')
  })

  test('a proxy without CONNECT: http:// goes through it as absolute-form requests; an https:// tunnel it drops fails, no endless reconnecting', { timeout: 15_000 }, async (t) => {
    const matomo = await startFakeMatomo()
    t.after(async () => { await matomo.close() })
    let connects = 0
    // node:http closes the connection of a CONNECT request when nothing listens for 'connect'.
    const { proxy, proxyUrl } = await startForwardProxy(t, { tunnels: false })
    proxy.on('connection', () => { connects++ })
    const plain = createBulkClient({ matomoUrl: matomo.url, timeoutMs: 2000, env: { HTTP_PROXY: proxyUrl } })
    t.after(async () => { await plain.close() })
    assert.equal((await plain.sendBulk('{"requests":[]}')).status, 200)
    const tunnelled = createBulkClient({ matomoUrl: 'https://127.0.0.1:9/matomo.php', timeoutMs: 2000, env: { HTTPS_PROXY: proxyUrl } })
    t.after(async () => { await tunnelled.close() })
    connects = 0
    await assert.rejects(tunnelled.sendBulk('{"requests":[]}'), (err: unknown) => err instanceof RequestFailure && err.kind === 'network' && /CONNECT/.test(err.message))
    assert.ok(connects < 5, `${connects} connections to the proxy`)
  })

  test('an answer a proxy compressed anyway (gzip, deflate, br) is decoded before it is judged', async (t) => {
    const answer = JSON.stringify({ status: 'success', tracked: 2, invalid: 0 })
    const encoders: Record<string, (b: string) => Buffer> = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync }
    let encoding = 'gzip'
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding }); res.end(encoders[encoding]?.(answer)) })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => { server.closeAllConnections(); server.close() })
    const client = createBulkClient({ matomoUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/matomo.php`, timeoutMs: 2000 })
    t.after(async () => { await client.close() })
    for (encoding of Object.keys(encoders)) assert.equal((await client.sendBulk('{"requests":[]}')).body, answer, encoding)
    // Labelled but not encoded, or empty: judged as it came (an answer is there; never a reason to resend).
    encoders.gzip = (b) => Buffer.from(b)
    encoding = 'gzip'
    assert.equal((await client.sendBulk('{"requests":[]}')).body, answer)
    encoders.gzip = () => Buffer.alloc(0)
    assert.equal((await client.sendBulk('{"requests":[]}')).body, '')
  })

  test('a keep-alive socket the server dropped is replaced at once: the request goes on a fresh connection, not as a failure', async (t) => {
    // Answers the first request of each connection, then drops the connection when a second one comes on it.
    const server = createNetServer((socket) => {
      let requests = 0
      socket.on('data', () => {
        if (++requests === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 39\r\n\r\n{"status":"success","tracked":0,"x":""}')
        else socket.destroy()
      })
      socket.on('error', () => undefined)
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    t.after(() => { server.close() })
    const client = createBulkClient({ matomoUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/matomo.php`, timeoutMs: 2000, connections: 1 })
    t.after(async () => { await client.close() })
    for (let i = 0; i < 3; i++) assert.equal((await client.sendBulk('{"requests":[]}')).status, 200, `request ${i + 1}`)
  })

  test('a server that takes the request and then resets gets it twice at most per attempt, not once per pooled socket', async (t) => {
    let resetting = false
    let arrivals = 0
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        arrivals++
        if (resetting) res.socket?.resetAndDestroy()
        else res.end('{"status":"success","tracked":0,"invalid":0}')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => { server.closeAllConnections(); server.close() })
    const client = createBulkClient({ matomoUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/matomo.php`, timeoutMs: 2000, connections: 4 })
    t.after(async () => { await client.close() })
    await Promise.all([1, 2, 3, 4].map(async () => await client.sendBulk('{"requests":[]}'))) // four kept-alive sockets
    resetting = true
    arrivals = 0
    await assert.rejects(client.sendBulk('{"requests":[]}'), (err: unknown) => err instanceof RequestFailure && err.kind === 'network')
    assert.equal(arrivals, 2)
  })

  test('goes through HTTP_PROXY when set, and not for hosts in NO_PROXY', async (t) => {
    const matomo = await startFakeMatomo()
    t.after(async () => { await matomo.close() })
    const seen: string[] = []
    const { proxyUrl } = await startForwardProxy(t, { tunnels: true, seen })

    const viaProxy = createBulkClient({ matomoUrl: matomo.url, timeoutMs: 2000, env: { HTTP_PROXY: proxyUrl } })
    t.after(async () => { await viaProxy.close() })
    assert.equal((await viaProxy.sendBulk('{"requests":[]}')).status, 200)
    assert.equal(seen.length, 1)

    const bypass = createBulkClient({ matomoUrl: matomo.url, timeoutMs: 2000, env: { HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' } })
    t.after(async () => { await bypass.close() })
    assert.equal((await bypass.sendBulk('{"requests":[]}')).status, 200)
    assert.equal(seen.length, 1)
    assert.equal(matomo.bulkCount, 2)
  })
})
