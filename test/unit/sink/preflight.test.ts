// Preflight against the fake Matomo: every check passes or fails with what is wrong and how to fix it; nothing is stored.
import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { createBulkClient } from '../../../src/sink/bulk-request.js'
import { classifyApiAnswer, formatPreflight, runPreflight, type PreflightReport } from '../../../src/sink/preflight.js'
import { secretForms } from '../../../src/sink/classify.js'
import { startFakeMatomo, SUPER_TOKEN, VIEW_TOKEN, WRITE_TOKEN, type FakeMatomo, type FakeMatomoOptions, type Scripted } from '../../helpers/fake-matomo.js'

async function check (t: TestContext, token: string | undefined, idsite = 1, answer?: Scripted, url?: (m: FakeMatomo) => string, options: FakeMatomoOptions = {}, prepare?: (m: FakeMatomo) => Promise<void>): Promise<{ report: PreflightReport, matomo: FakeMatomo }> {
  const matomo = await startFakeMatomo(options)
  t.after(async () => { await matomo.close() })
  if (answer !== undefined) matomo.enqueue(answer)
  const client = createBulkClient({ matomoUrl: url?.(matomo) ?? matomo.url, timeoutMs: 2000 })
  t.after(async () => { await client.close() })
  await prepare?.(matomo)
  const report = await runPreflight({ client, idsite, token })
  return { report, matomo }
}

const statuses = (report: PreflightReport): string[] => report.checks.map((c) => `${c.name}:${c.status}`)

describe('runPreflight', () => {
  test('a super user\'s token on an existing site passes, and nothing is stored', async (t) => {
    const { report, matomo } = await check(t, SUPER_TOKEN)
    assert.deepEqual(statuses(report), ['endpoint:ok', 'token:ok', 'site:ok'])
    assert.equal(report.ok, true)
    assert.equal(report.superUser, true)
    assert.equal(matomo.hits.length, 0)
    const bulk = matomo.requests.find((r) => r.path === '/matomo.php')
    // An empty bulk request succeeds for any token, so it is sent without one: it only proves the endpoint.
    assert.deepEqual(JSON.parse(bulk?.body ?? ''), { requests: [] })
    for (const r of matomo.requests) assert.ok(!JSON.stringify(r.query).includes(SUPER_TOKEN), `token in the URL of ${r.path}`)
    assert.ok(!formatPreflight(report).includes(SUPER_TOKEN))
  })

  test('a write token passes with a warning that invalid lines cannot be identified', async (t) => {
    const { report } = await check(t, WRITE_TOKEN)
    assert.deepEqual(statuses(report), ['endpoint:ok', 'token:warn', 'access:ok', 'site:ok'])
    assert.equal(report.ok, true)
    assert.equal(report.superUser, false)
    assert.match(report.checks[1]!.message, /reject file/)
  })

  test('a view-only token fails: it cannot track cip or old hits', async (t) => {
    const { report } = await check(t, VIEW_TOKEN)
    assert.equal(report.ok, false)
    assert.match(report.checks.find((c) => c.name === 'access')?.message ?? '', /write access to site 1/)
  })

  test('an unknown token fails with Matomo\'s reason and what to check, after ONE failed login (never retried)', async (t) => {
    const { report, matomo } = await check(t, 'f'.repeat(32))
    assert.deepEqual(statuses(report), ['endpoint:ok', 'token:fail'])
    assert.match(report.checks[1]!.message, /invalid or expired.*Auth tokens/)
    assert.match(report.checks[1]!.message, /brute-force/)
    assert.ok(!report.checks[1]!.message.includes('f'.repeat(32)))
    assert.equal(matomo.failedLogins, 1)
    assert.equal(matomo.requests.filter((r) => r.path === '/index.php').length, 1)
  })

  test('a super user\'s token: "can write" comes from hasSuperUserAccess (getSitesIdWithWriteAccess is [] for one)', async (t) => {
    const { report, matomo } = await check(t, SUPER_TOKEN)
    assert.equal(report.checks.find((c) => c.name === 'access'), undefined)
    assert.ok(!matomo.requests.some((r) => r.query.method === 'SitesManager.getSitesIdWithWriteAccess'))
  })

  test('an admin (not write) user passes the access check', async (t) => {
    const admin = 'd3'.repeat(16)
    const { report } = await check(t, admin, 1, undefined, undefined, { adminTokens: { [admin]: [1] } })
    assert.deepEqual(statuses(report), ['endpoint:ok', 'token:warn', 'access:ok', 'site:ok'])
  })

  test('an IP blocked by Matomo\'s brute-force protection: reported as such with how to unblock, one request, even for a valid token', async (t) => {
    const { report, matomo } = await check(t, SUPER_TOKEN, 1, undefined, undefined, { bruteForceLimit: 2 }, async (m) => {
      for (let i = 0; i < 2; i++) await fetch(`${m.origin}/index.php?module=API&format=json&method=UsersManager.hasSuperUserAccess`, { method: 'POST', body: new URLSearchParams({ token_auth: 'e'.repeat(32) }) })
    })
    assert.equal(matomo.blocked, true)
    assert.deepEqual(statuses(report), ['endpoint:ok', 'token:fail'])
    assert.match(report.checks[1]!.message, /Too many failed logins.*brute-force.*matomo_brute_force_log/s)
    assert.equal(matomo.requests.filter((r) => r.path === '/index.php').length, 3, 'the preflight made one API call and did not retry')
  })

  test('a site that does not exist fails with a hint about --idsite', async (t) => {
    const { report } = await check(t, SUPER_TOKEN, 999)
    assert.equal(report.ok, false)
    assert.match(report.checks.at(-1)!.message, /--idsite/)
  })

  test('without a token: warns about cip and old hits', async (t) => {
    const { report } = await check(t, undefined)
    assert.equal(report.ok, true)
    assert.deepEqual(statuses(report), ['endpoint:ok', 'token:warn', 'site:warn'])
    assert.match(report.checks[1]!.message, /cdt_requires_token/)
  })

  test('a GIF answer (QueuedTracking) fails the endpoint check', async (t) => {
    const { report } = await check(t, SUPER_TOKEN, 1, { kind: 'gif' })
    assert.deepEqual(statuses(report), ['endpoint:fail'])
    assert.match(report.checks[0]!.message, /QueuedTracking/)
  })

  test('a wrong path fails the endpoint check', async (t) => {
    const { report } = await check(t, SUPER_TOKEN, 1, undefined, (m) => `${m.origin}/wrong/thing.php`)
    assert.deepEqual(statuses(report), ['endpoint:fail'])
    assert.match(report.checks[0]!.message, /404/)
  })

  test('an unreachable URL fails with a hint about host and port', async (t) => {
    const matomo = await startFakeMatomo()
    const url = matomo.url
    await matomo.close()
    const client = createBulkClient({ matomoUrl: url, timeoutMs: 2000 })
    t.after(async () => { await client.close() })
    const report = await runPreflight({ client, idsite: 1, token: SUPER_TOKEN })
    assert.deepEqual(statuses(report), ['endpoint:fail'])
    assert.match(report.checks[0]!.message, /ECONNREFUSED.*host name and port/)
  })
})

describe('classifyApiAnswer (answers recorded on Matomo 5.2, matomo-real/ANSWERS.md)', () => {
  const html = (message: string): string => `<!DOCTYPE html><html><body><div class="content"><h2>${message}</h2></div></body></html>`
  const unable = 'Unable to authenticate with the provided token. It is either invalid or expired.'
  const blocked = 'Too many failed logins. Please wait and try logging in again later.'
  const cases: Array<{ name: string, status: number, contentType: string, body: string, expect: string }> = [
    { name: 'value', status: 200, contentType: 'application/json', body: '{"value":true}', expect: 'value' },
    { name: 'list', status: 200, contentType: 'application/json', body: '[1]', expect: 'value' },
    { name: 'bad token, query-string layout: 401 JSON', status: 401, contentType: 'application/json', body: JSON.stringify({ result: 'error', message: unable }), expect: 'auth' },
    { name: 'bad token, all in the body: 401 HTML page', status: 401, contentType: 'text/html', body: html(unable), expect: 'auth' },
    { name: 'bad token in GET: 401 JSON', status: 401, contentType: 'application/json', body: JSON.stringify({ result: 'error', message: 'Unable to authenticate with the provided token. It is either invalid, expired or is required to be sent as a POST parameter.' }), expect: 'auth' },
    { name: 'valid token without view access: 401 JSON', status: 401, contentType: 'application/json', body: JSON.stringify({ result: 'error', message: "You can't access this resource as it requires 'view' access for the website id = 999." }), expect: 'access' },
    { name: 'unknown site, super user: HTTP 200 result error', status: 200, contentType: 'application/json', body: JSON.stringify({ result: 'error', message: "An unexpected website was found in the request: website id was set to '999' ." }), expect: 'other' },
    { name: 'unknown method: HTTP 200 result error', status: 200, contentType: 'application/json', body: JSON.stringify({ result: 'error', message: "The method 'X' does not exist" }), expect: 'other' },
    { name: 'blocked IP: 500 HTML', status: 500, contentType: 'text/html', body: html(blocked), expect: 'blocked' },
    { name: 'blocked IP: 500 JSON', status: 500, contentType: 'application/json', body: JSON.stringify({ result: 'error', message: blocked }), expect: 'blocked' },
    { name: 'a 502 page', status: 502, contentType: 'text/html', body: '<h1>Bad Gateway</h1>', expect: 'other' },
    { name: 'a 500 JSON value', status: 500, contentType: 'application/json', body: '{"value":true}', expect: 'other' }
  ]
  for (const c of cases) {
    test(c.name, () => {
      const result = classifyApiAnswer({ status: c.status, contentType: c.contentType, body: c.body, retryAfter: undefined, elapsedMs: 1 }, { display: 'x', secrets: secretForms('tok') })
      assert.equal(result.kind === 'value' ? 'value' : result.reason, c.expect)
    })
  }
})
