// The fake Matomo answers like the real Matomo 5.2 recorded in matomo-real/ANSWERS.md (F1-F9), row by row.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startFakeMatomo, SUPER_TOKEN, WRITE_TOKEN } from '../../helpers/fake-matomo.js'

const BAD = '9f'.repeat(16)
const item = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ idsite: 1, rec: 1, url: 'https://www.example.org/x', cdt: Math.floor(Date.now() / 1000) - 60, ...extra })

interface Row { name: string, path: 'bulk' | 'api-query' | 'api-body', token?: string, items?: unknown[], method?: string, params?: Record<string, string>, status: number, type: RegExp, body: RegExp }

const ROWS: Row[] = [
  { name: 'F1 empty bulk, bad token', path: 'bulk', token: BAD, items: [], status: 200, type: /json/, body: /^\{"status":"success","tracked":0,"invalid":0\}$/ },
  { name: 'F2 one item with cip, write token', path: 'bulk', token: WRITE_TOKEN, items: [item({ cip: '203.0.113.9' })], status: 200, type: /json/, body: /^\{"status":"success","tracked":1,"invalid":0\}$/ },
  { name: 'F2 one item with cip, bad token: 200, invalid 1', path: 'bulk', token: BAD, items: [item({ cip: '203.0.113.9' })], status: 200, type: /json/, body: /^\{"status":"success","tracked":0,"invalid":1\}$/ },
  { name: 'F3 super token: invalid_indices', path: 'bulk', token: SUPER_TOKEN, items: [item({ cip: '203.0.113.9' })], status: 200, type: /json/, body: /"invalid_indices":\[\]/ },
  { name: 'F4 item without cip, bad token: tracked', path: 'bulk', token: BAD, items: [item()], status: 200, type: /json/, body: /"tracked":1,"invalid":0/ },
  { name: 'F5 unknown site, super token', path: 'bulk', token: SUPER_TOKEN, items: [item({ idsite: 999 })], status: 200, type: /json/, body: /"tracked":0,"invalid":1,"invalid_indices":\[0\]/ },
  { name: 'F8 bad token, method in the query: 401 JSON', path: 'api-query', token: BAD, method: 'UsersManager.hasSuperUserAccess', status: 401, type: /json/, body: /"result":"error".*Unable to authenticate/ },
  { name: 'F8 bad token, all in the body: 401 HTML', path: 'api-body', token: BAD, method: 'UsersManager.hasSuperUserAccess', status: 401, type: /text\/html/, body: /<h2>Unable to authenticate/ },
  { name: 'super: hasSuperUserAccess true', path: 'api-query', token: SUPER_TOKEN, method: 'UsersManager.hasSuperUserAccess', status: 200, type: /json/, body: /^\{"value":true\}$/ },
  { name: 'super: getSitesIdWithWriteAccess []', path: 'api-query', token: SUPER_TOKEN, method: 'SitesManager.getSitesIdWithWriteAccess', status: 200, type: /json/, body: /^\[\]$/ },
  { name: 'super: getSitesIdWithAdminAccess [1]', path: 'api-query', token: SUPER_TOKEN, method: 'SitesManager.getSitesIdWithAdminAccess', status: 200, type: /json/, body: /^\[1\]$/ },
  { name: 'write: getSitesIdWithWriteAccess [1]', path: 'api-query', token: WRITE_TOKEN, method: 'SitesManager.getSitesIdWithWriteAccess', status: 200, type: /json/, body: /^\[1\]$/ },
  { name: 'write: getSitesIdWithAdminAccess []', path: 'api-query', token: WRITE_TOKEN, method: 'SitesManager.getSitesIdWithAdminAccess', status: 200, type: /json/, body: /^\[\]$/ },
  { name: 'super: getSiteFromId 999 → HTTP 200 result error', path: 'api-query', token: SUPER_TOKEN, method: 'SitesManager.getSiteFromId', params: { idSite: '999' }, status: 200, type: /json/, body: /"result":"error".*unexpected website/ },
  { name: 'write: getSiteFromId 999 → 401 JSON (even all in the body)', path: 'api-body', token: WRITE_TOKEN, method: 'SitesManager.getSiteFromId', params: { idSite: '999' }, status: 401, type: /json/, body: /requires 'view' access/ },
  { name: 'anonymous: hasSuperUserAccess false', path: 'api-query', method: 'UsersManager.hasSuperUserAccess', status: 200, type: /json/, body: /^\{"value":false\}$/ },
  { name: 'unknown method: HTTP 200 result error', path: 'api-query', token: SUPER_TOKEN, method: 'Nope.nothing', status: 200, type: /json/, body: /"result":"error"/ }
]

test('each recorded answer', async (t) => {
  const matomo = await startFakeMatomo()
  t.after(async () => { await matomo.close() })
  for (const row of ROWS) {
    let response: Response
    if (row.path === 'bulk') {
      response = await fetch(matomo.url + '?queuedtracking=0', { method: 'POST', body: JSON.stringify({ requests: row.items, token_auth: row.token }) })
    } else {
      const form = new URLSearchParams({ ...row.params, ...(row.token === undefined ? {} : { token_auth: row.token }) })
      const api = `${matomo.origin}/index.php`
      if (row.path === 'api-query') response = await fetch(`${api}?module=API&format=json&method=${row.method ?? ''}`, { method: 'POST', body: form })
      else {
        form.set('module', 'API')
        form.set('format', 'json')
        form.set('method', row.method ?? '')
        response = await fetch(api, { method: 'POST', body: form })
      }
    }
    const body = await response.text()
    assert.equal(response.status, row.status, row.name)
    assert.match(response.headers.get('content-type') ?? '', row.type, row.name)
    assert.match(body, row.body, row.name)
  }
})

test('F9 brute force: 20 failed logins block the IP; valid tokens then get 500, an empty bulk still succeeds; unblock()', async (t) => {
  const matomo = await startFakeMatomo()
  t.after(async () => { await matomo.close() })
  const api = (token: string, layout: 'query' | 'body' = 'query'): Promise<Response> => layout === 'query'
    ? fetch(`${matomo.origin}/index.php?module=API&format=json&method=UsersManager.hasSuperUserAccess`, { method: 'POST', body: new URLSearchParams({ token_auth: token }) })
    : fetch(`${matomo.origin}/index.php`, { method: 'POST', body: new URLSearchParams({ module: 'API', format: 'json', method: 'UsersManager.hasSuperUserAccess', token_auth: token }) })
  const bulk = (items: unknown[]): Promise<Response> => fetch(matomo.url, { method: 'POST', body: JSON.stringify({ requests: items, token_auth: SUPER_TOKEN }) })
  for (let i = 0; i < 10; i++) assert.equal((await api(BAD)).status, 401)
  // A bad token on a bulk item that needs authentication is a failed login too; one without cip is not.
  for (let i = 0; i < 10; i++) await fetch(matomo.url, { method: 'POST', body: JSON.stringify({ requests: [item({ cip: '203.0.113.9' })], token_auth: BAD }) })
  await fetch(matomo.url, { method: 'POST', body: JSON.stringify({ requests: [item()], token_auth: BAD }) })
  assert.equal(matomo.failedLogins, 20)
  assert.equal(matomo.blocked, true)
  const html = await api(SUPER_TOKEN, 'body')
  assert.equal(html.status, 500)
  assert.match(await html.text(), /Too many failed logins/)
  const json = await api(SUPER_TOKEN)
  assert.equal(json.status, 500)
  assert.deepEqual(await json.json(), { result: 'error', message: 'Too many failed logins. Please wait and try logging in again later.' })
  const tracked = await bulk([item({ cip: '203.0.113.9' })])
  assert.equal(tracked.status, 500)
  assert.equal(await tracked.text(), '{"status":"error","tracked":0,"invalid":0}')
  assert.equal((await bulk([])).status, 200)
  matomo.unblock()
  assert.equal((await api(SUPER_TOKEN)).status, 200)
})
