// The benchmarks' fake Matomo: bulk counting, the Reporting API calls import_logs.py makes, and the saturating mode's rollback.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createFakeMatomo, parseServerArgs, type FakeMatomoOptions, type ServerStats } from '../../../bench/matomo-server.js'

const BASE_OPTIONS: FakeMatomoOptions = { mode: 'instant', latencyMs: 0, perHitMs: 0.1, overheadMs: 0, failAbove: 1 }

async function start (options: Partial<FakeMatomoOptions>): Promise<{ url: string, close: () => Promise<void> }> {
  const { server } = createFakeMatomo({ ...BASE_OPTIONS, ...options })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url, close: async () => { server.closeAllConnections(); server.close(); await once(server, 'close') } }
}

const bulk = (n: number, extra = ''): string => JSON.stringify({ token_auth: 'x', requests: Array.from({ length: n }, (_, i) => ({ idsite: 1, rec: 1, url: `https://example.org/${i}${extra}` })) })

describe('bench fake Matomo', () => {
  let instant: Awaited<ReturnType<typeof start>>
  before(async () => { instant = await start({ mode: 'instant' }) })
  after(async () => { await instant.close() })

  it('answers 400 to a bulk-looking body that is not JSON', async () => {
    const res = await fetch(`${instant.url}/matomo.php`, { method: 'POST', body: '{"requests": [' })
    assert.equal(res.status, 400)
  })

  it('answers 400 to a request target that is no URL path, and keeps serving', async () => {
    // fetch() normalises "//"; a raw request sends it as import_logs.py does with a --url ending in "/".
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${instant.url}/`, { method: 'GET', path: '//' }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
      req.on('error', reject)
      req.end()
    })
    assert.equal(status, 400)
    assert.equal((await fetch(`${instant.url}/stats`)).status, 200)
  })

  it('reads its options from the command line, with defaults, and refuses an unknown mode', () => {
    assert.deepEqual(parseServerArgs(['--mode', 'saturating', '--fail-above', '5']), { mode: 'saturating', latencyMs: 250, perHitMs: 1, overheadMs: 25, failAbove: 5 })
    assert.equal(parseServerArgs([]).mode, 'instant')
    assert.throws(() => parseServerArgs(['--mode', 'slow']), /--mode/)
  })

  it('answers a bulk request with tracked = items and counts hits and requests', async () => {
    await fetch(`${instant.url}/reset`, { method: 'POST' })
    const res = await fetch(`${instant.url}/matomo.php?queuedtracking=0`, { method: 'POST', body: bulk(3) })
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { status: 'success', tracked: 3, invalid: 0 })
    await fetch(`${instant.url}/piwik.php`, { method: 'POST', body: bulk(2) })
    const stats = await (await fetch(`${instant.url}/stats`)).json() as ServerStats
    assert.equal(stats.hits, 5)
    assert.equal(stats.bulkRequests, 2)
    assert.equal(stats.maxInFlight, 1)
  })

  it('answers 400 to a body that is not a bulk request, as Matomo does', async () => {
    const res = await fetch(`${instant.url}/matomo.php`, { method: 'POST', body: 'not json' })
    assert.equal(res.status, 400)
  })

  it('answers the SitesManager call import_logs.py makes with --idsite', async () => {
    const res = await fetch(`${instant.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'module=API&format=json&method=SitesManager.getSiteFromId&idSite=1&token_auth=t' })
    const site = await res.json() as { main_url: string, idsite: string }
    assert.equal(site.idsite, '1')
    assert.match(site.main_url, /^https:\/\//)
  })

  it('records write→arrival delays from bench_w in the hit URLs', async () => {
    await fetch(`${instant.url}/reset`, { method: 'POST' })
    await fetch(`${instant.url}/matomo.php`, { method: 'POST', body: bulk(2, `?bench_w=${Date.now() - 5_000}`) })
    const stats = await (await fetch(`${instant.url}/stats`)).json() as ServerStats
    assert.equal(stats.delays.count, 2)
    assert.ok(stats.delays.p99Ms! >= 5_000)
  })

  it('latency: answers after the set time and counts the requests in flight together', async () => {
    const server = await start({ mode: 'latency', latencyMs: 50 })
    try {
      const answers = await Promise.all([1, 2, 3].map(async () => await fetch(`${server.url}/matomo.php`, { method: 'POST', body: bulk(4) })))
      assert.deepEqual(answers.map((r) => r.status), [200, 200, 200])
      const stats = await (await fetch(`${server.url}/stats`)).json() as ServerStats
      assert.equal(stats.hits, 12)
      assert.equal(stats.maxInFlight, 3)
      assert.ok(stats.lastResponseMs! >= stats.firstArrivalMs!)
    } finally {
      await server.close()
    }
  })

  it('latency: counts the time from the request\'s arrival, not from the end of its body', async () => {
    const server = await start({ mode: 'latency', latencyMs: 350 })
    try {
      const body = bulk(2)
      const started = performance.now()
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${server.url}/matomo.php`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          res.resume()
          res.on('end', () => { resolve(res.statusCode ?? 0) })
        })
        req.on('error', reject)
        // Half the body now, the rest 300 ms later: a server counting from the body's end answers after 650 ms.
        req.write(body.slice(0, 10))
        setTimeout(() => { req.end(body.slice(10)) }, 300)
      })
      const elapsed = performance.now() - started
      assert.equal(status, 200)
      assert.ok(elapsed >= 340, `answered after ${elapsed} ms, before the latency`)
      assert.ok(elapsed < 600, `answered after ${elapsed} ms: the body's 300 ms were added to the latency`)
    } finally {
      await server.close()
    }
  })

  it('saturating: requests within the in-flight limit share the server and all succeed', async () => {
    const server = await start({ mode: 'saturating', failAbove: 3, perHitMs: 1, overheadMs: 5 })
    try {
      const answers = await Promise.all([1, 2, 3].map(async () => await fetch(`${server.url}/matomo.php`, { method: 'POST', body: bulk(20) })))
      assert.deepEqual(answers.map((r) => r.status), [200, 200, 200])
      const stats = await (await fetch(`${server.url}/stats`)).json() as ServerStats
      assert.equal(stats.hits, 60)
      assert.equal(stats.failedRequests, 0)
    } finally {
      await server.close()
    }
  })

  it('answers unknown API methods with a Matomo-style error and unknown paths with 404', async () => {
    const api = await fetch(`${instant.url}/index.php?module=API&method=Nope.nothing&format=json`)
    assert.equal((await api.json() as { result: string }).result, 'error')
    assert.equal((await fetch(`${instant.url}/elsewhere`)).status, 404)
    assert.equal((await fetch(`${instant.url}/matomo.php?idsite=1&rec=1`)).status, 204)
  })

  it('saturating: a request alone succeeds; requests above the in-flight limit fail with 500 and are rolled back', async () => {
    // 10 hits × 30 ms: each request works long enough for the two sent together to overlap.
    const server = await start({ mode: 'saturating', failAbove: 1, perHitMs: 30 })
    try {
      const alone = await fetch(`${server.url}/matomo.php`, { method: 'POST', body: bulk(10) })
      assert.equal(alone.status, 200)
      const both = await Promise.all([1, 2].map(async () => await fetch(`${server.url}/matomo.php`, { method: 'POST', body: bulk(10) })))
      assert.deepEqual(both.map((r) => r.status), [500, 500])
      const stats = await (await fetch(`${server.url}/stats`)).json() as ServerStats
      assert.equal(stats.hits, 10)
      assert.equal(stats.hitsRolledBack, 20)
      assert.equal(stats.failedRequests, 2)
      assert.equal(stats.maxInFlight, 2)
    } finally {
      await server.close()
    }
  })
})
