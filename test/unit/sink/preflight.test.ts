// Preflight against the fake Matomo: every check passes or fails with what is wrong and how to fix it; nothing is stored.
import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { createBulkClient } from '../../../src/sink/bulk-request.js'
import { formatPreflight, runPreflight, type PreflightReport } from '../../../src/sink/preflight.js'
import { startFakeMatomo, SUPER_TOKEN, VIEW_TOKEN, WRITE_TOKEN, type FakeMatomo, type Scripted } from '../../helpers/fake-matomo.js'

async function check (t: TestContext, token: string | undefined, idsite = 1, answer?: Scripted, url?: (m: FakeMatomo) => string): Promise<{ report: PreflightReport, matomo: FakeMatomo }> {
  const matomo = await startFakeMatomo()
  t.after(async () => { await matomo.close() })
  if (answer !== undefined) matomo.enqueue(answer)
  const client = createBulkClient({ matomoUrl: url?.(matomo) ?? matomo.url, timeoutMs: 2000 })
  t.after(async () => { await client.close() })
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
    assert.deepEqual(JSON.parse(bulk?.body ?? ''), { requests: [], token_auth: SUPER_TOKEN })
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

  test('an unknown token fails with Matomo\'s reason and what to check', async (t) => {
    const { report } = await check(t, 'f'.repeat(32))
    assert.deepEqual(statuses(report), ['endpoint:ok', 'token:fail'])
    assert.match(report.checks[1]!.message, /invalid or expired.*Auth tokens/)
    assert.ok(!report.checks[1]!.message.includes('f'.repeat(32)))
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
