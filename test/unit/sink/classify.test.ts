// One test per answer Matomo (or what stands in front of it) can give to a bulk request: matomo-tracking-api.md §2, §3.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseMatomoUrl, RequestFailure, type HttpAnswer } from '../../../src/sink/bulk-request.js'
import { classifyAnswer, classifyFailure, parseRetryAfter, RETRY_AFTER_MAX_MS, redactSecrets, secretForms, type Outcome } from '../../../src/sink/classify.js'
import { TRACKING_GIF } from '../../helpers/fake-matomo.js'

const TOKEN = 'secret-token-0123456789abcdef0123'
const context = { display: 'https://matomo.example.org/matomo.php', secrets: secretForms(TOKEN) }

function answer (status: number, body: string | Buffer, contentType = 'application/json', retryAfter?: string): HttpAnswer {
  return { status, contentType, body: body.toString(), retryAfter, elapsedMs: 1 }
}

const json = (value: unknown): string => JSON.stringify(value)

interface Row {
  name: string
  answer: HttpAnswer
  sent: number
  expect: Partial<Record<string, unknown>> & { kind: Outcome['kind'] }
  /** For fatal: the error code and a phrase the message must contain. */
  code?: string
  says?: RegExp
}

const ROWS: Row[] = [
  { name: 'success, tracked + invalid == sent: delivered', answer: answer(200, json({ status: 'success', tracked: 3, invalid: 0, invalid_indices: [] })), sent: 3, expect: { kind: 'delivered', tracked: 3, invalid: 0 } },
  { name: 'success with invalid_indices (super-user token): indices kept', answer: answer(200, json({ status: 'success', tracked: 1, invalid: 2, invalid_indices: [2, 0] })), sent: 3, expect: { kind: 'delivered', tracked: 1, invalid: 2, invalidIndices: [0, 2] } },
  { name: 'success with counts only (not a super user): delivered without indices', answer: answer(200, json({ status: 'success', tracked: 1, invalid: 1 })), sent: 2, expect: { kind: 'delivered', tracked: 1, invalid: 1, invalidIndices: undefined } },
  { name: 'tracked 0, invalid all (wrong token): delivered, the sink judges the pattern', answer: answer(200, json({ status: 'success', tracked: 0, invalid: 4 })), sent: 4, expect: { kind: 'delivered', tracked: 0, invalid: 4 } },
  { name: 'indices that do not match the invalid count are not trusted', answer: answer(200, json({ status: 'success', tracked: 1, invalid: 2, invalid_indices: [0] })), sent: 3, expect: { kind: 'delivered', invalidIndices: undefined } },
  { name: 'tracked + invalid < sent (lock wait timeout): unaccounted, never success', answer: answer(200, json({ status: 'success', tracked: 2, invalid: 1 })), sent: 5, expect: { kind: 'unaccounted', tracked: 2, invalid: 1, missing: 2 } },
  { name: 'tracked + invalid > sent: fatal', answer: answer(200, json({ status: 'success', tracked: 9, invalid: 0 })), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_CONFIG', says: /counted 9 hits/ },
  { name: 'record_statistics=0 (tracked 0 of N, invalid 0): unaccounted', answer: answer(200, json({ status: 'success', tracked: 0, invalid: 0 })), sent: 3, expect: { kind: 'unaccounted', missing: 3 } },
  { name: '200 GIF (QueuedTracking took the batch): fatal, says so', answer: answer(200, TRACKING_GIF.toString('latin1'), 'image/gif'), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_CONFIG', says: /QueuedTracking/ },
  { name: '200 HTML page (wrong URL): fatal, names matomo.php', answer: answer(200, '<html><title>Matomo login</title></html>', 'text/html'), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_CONFIG', says: /matomo\.php/ },
  { name: '200 empty body: fatal', answer: answer(200, '', 'text/html'), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_CONFIG', says: /empty body/ },
  { name: '200 JSON without the bulk shape: fatal', answer: answer(200, json({ hello: 'world' })), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_CONFIG', says: /not a bulk tracking answer/ },
  { name: '200 JSON status error: retry', answer: answer(200, json({ status: 'error', tracked: 0, invalid: 0 })), sent: 2, expect: { kind: 'retry', reason: 'status_error' } },
  // Matomo 5.2, brute-force block (matomo-real/ANSWERS.md F9): never retried as a generic 5xx.
  { name: '500 HTML "Too many failed logins" (IP blocked): fatal MF_ERR_SINK_BLOCKED with how to unblock', answer: answer(500, '<html><body><div class="content"><h2>Too many failed logins. Please wait and try logging in again later.</h2></div></body></html>', 'text/html'), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_BLOCKED', says: /matomo_brute_force_log.*login_allowlist_ip/ },
  { name: '500 JSON "Too many failed logins": fatal MF_ERR_SINK_BLOCKED', answer: answer(500, json({ result: 'error', message: 'Too many failed logins. Please wait and try logging in again later.' })), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_BLOCKED', says: /wait up to an hour/ },
  { name: '500 {"status":"error","tracked":0,"invalid":0} (rollback, or a blocked IP\'s bulk answer): retry, with a hint', answer: answer(500, json({ status: 'error', tracked: 0, invalid: 0 })), sent: 2, expect: { kind: 'retry', reason: 'http_5xx' }, says: /brute-force.*matomo-forward check/ },
  { name: '204 (send_image=0 or a queue): fatal, counts unknown', answer: answer(204, ''), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_CONFIG', says: /204/ },
  { name: '400 "part of Matomo" page (body not recognised as bulk): fatal', answer: answer(400, Buffer.concat([TRACKING_GIF, Buffer.from('<h1>This resource is part of Matomo.</h1>')]).toString('latin1'), 'image/gif'), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_CONFIG', says: /part of Matomo/ },
  { name: '400 JSON status error (batch aborted): refused', answer: answer(400, json({ status: 'error', tracked: 0, invalid: 0 })), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_REFUSED', says: /HTTP 400/ },
  { name: '401 (basic auth in front of Matomo): refused, says how to give credentials', answer: answer(401, 'Unauthorized', 'text/plain'), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_REFUSED', says: /user:password/ },
  { name: '403 (WAF): refused', answer: answer(403, 'Forbidden', 'text/plain'), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_REFUSED', says: /HTTP 403/ },
  { name: '404: fatal, no tracking endpoint', answer: answer(404, 'nope', 'text/html'), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_CONFIG', says: /no tracking endpoint/ },
  { name: '301 redirect: fatal, give the final URL', answer: answer(301, '', 'text/html'), sent: 2, expect: { kind: 'fatal' }, code: 'MF_ERR_SINK_CONFIG', says: /final URL/ },
  { name: '413: split', answer: answer(413, '<h1>413 Request Entity Too Large</h1>', 'text/html'), sent: 2, expect: { kind: 'split' } },
  { name: '408: retry', answer: answer(408, '', 'text/html'), sent: 2, expect: { kind: 'retry', reason: 'http_408' } },
  { name: '429 with Retry-After seconds: retry after that long', answer: answer(429, '', 'text/html', '7'), sent: 2, expect: { kind: 'retry', reason: 'http_429', retryAfterMs: 7000 } },
  { name: '500 with rolled-back counts: retry, counts ignored', answer: answer(500, json({ status: 'error', tracked: 2, invalid: 0 })), sent: 2, expect: { kind: 'retry', reason: 'http_5xx' } },
  { name: '502 from a proxy: retry', answer: answer(502, '<h1>Bad Gateway</h1>', 'text/html'), sent: 2, expect: { kind: 'retry', reason: 'http_5xx' } },
  { name: '503 with Retry-After: retry after that long', answer: answer(503, '', 'text/html', '2'), sent: 2, expect: { kind: 'retry', reason: 'http_5xx', retryAfterMs: 2000 } },
  { name: '504 from a proxy: retry', answer: answer(504, '', 'text/html'), sent: 2, expect: { kind: 'retry', reason: 'http_5xx' } }
]

describe('classifyAnswer', () => {
  test('an answer that echoes the request shows none of our secrets, in any form we send them', () => {
    const token = 'tok+SECRET=ab"cd\\ef&g é'
    const endpoint = parseMatomoUrl('https://user:pw%40SECRET@matomo.example.org/matomo.php')
    const secrets = secretForms(token, endpoint.credentials)
    const echoed = [
      `token_auth=${new URLSearchParams({ t: token }).toString().slice(2)}`,
      `{"token_auth":${JSON.stringify(token)}}`,
      `token=${encodeURIComponent(token)} raw=${token}`,
      `authorization=${endpoint.authorization ?? ''} password=pw@SECRET in-url=pw%40SECRET`
    ].join(' ')
    for (const status of [200, 400, 418, 500]) {
      const outcome = classifyAnswer(answer(status, echoed, 'text/plain'), 2, { display: endpoint.display, secrets })
      const message = outcome.kind === 'fatal' ? outcome.error.message : outcome.kind === 'retry' ? outcome.message : ''
      assert.ok(message.includes('<redacted>'), `HTTP ${status}: ${message}`)
      assert.ok(!/SECRET|dXNlcjpwd0BTRUNSRVQ/.test(message), `HTTP ${status}: ${message}`)
    }
    // Redacted before tags are stripped (a password holding "<" would be split), and as PHP's json_encode writes it.
    const html = classifyAnswer(answer(418, `<p>pw=${'pa<ss>w0rd'}</p>`, 'text/html'), 2, { display: 'x', secrets: secretForms(undefined, ['pa<ss>w0rd']) })
    assert.ok(html.kind === 'fatal' && !html.error.message.includes('w0rd') && html.error.message.includes('<redacted>'), JSON.stringify(html))
    assert.equal(redactSecrets('{"auth":"Basic ab\\/cd=="}', secretForms(undefined, ['ab/cd=='])), '{"auth":"Basic <redacted>"}')
    // An HTML page (htmlspecialchars) and PHP's json_encode (non-ASCII as \uXXXX) show a password so.
    const pw = secretForms(undefined, ['Tr0ub&dor<3ä'])
    assert.equal(redactSecrets('<td>Tr0ub&amp;dor&lt;3ä</td>', pw), '<td><redacted></td>')
    assert.equal(redactSecrets('{"PHP_AUTH_PW":"Tr0ub&dor<3\\u00e4"}', pw), '{"PHP_AUTH_PW":"<redacted>"}')
    const whole = redactSecrets(echoed, secrets)
    assert.ok(!/SECRET|dXNlcjpwd0BTRUNSRVQ/.test(whole), whole)
    assert.equal(whole.split('<redacted>').length - 1, 7, whole)
    assert.ok(!endpoint.credentials.includes('user'), 'the user name alone is not a secret')
  })

  test('an HTTP-date Retry-After is counted from now, on a 200 status error as on a 503', () => {
    const now = Date.UTC(2026, 10, 25, 12, 0, 0)
    const date = new Date(now + 5000).toUTCString()
    for (const a of [answer(200, json({ status: 'error', tracked: 0, invalid: 0 }), 'application/json', date), answer(503, '', 'text/html', date)]) {
      const outcome = classifyAnswer(a, 2, context, now)
      assert.equal(outcome.kind, 'retry')
      assert.equal((outcome as { retryAfterMs?: number }).retryAfterMs, 5000, `HTTP ${a.status}`)
    }
  })

  for (const row of ROWS) {
    test(row.name, () => {
      const outcome = classifyAnswer(row.answer, row.sent, context)
      for (const [key, value] of Object.entries(row.expect)) {
        assert.deepEqual((outcome as unknown as Record<string, unknown>)[key], value, `${key} of ${JSON.stringify(outcome)}`)
      }
      if (outcome.kind === 'fatal') {
        assert.equal(outcome.error.code, row.code)
        assert.match(outcome.error.message, row.says ?? /./)
        assert.ok(!outcome.error.message.includes(TOKEN))
      }
      if (outcome.kind === 'retry' && row.says !== undefined) assert.match(outcome.message, row.says)
    })
  }

  test('never shows the token in a body excerpt', () => {
    const outcome = classifyAnswer(answer(403, `<p>token_auth=${TOKEN} denied</p>`, 'text/html'), 1, context)
    assert.equal(outcome.kind, 'fatal')
    const message = outcome.kind === 'fatal' ? outcome.error.message : ''
    assert.ok(!message.includes(TOKEN), message)
  })

  test('a 500 answer is retried, even with status:"error" and tracked counts (rolled back)', () => {
    const outcome = classifyAnswer(answer(500, json({ status: 'error', tracked: 5, invalid: 0 })), 5, context)
    assert.equal(outcome.kind, 'retry')
  })
})

describe('classifyFailure', () => {
  test('a timeout is retried', () => {
    assert.deepEqual(classifyFailure(new RequestFailure('timeout', 'no answer', undefined), context), { kind: 'retry', reason: 'timeout', message: 'no answer', retryAfterMs: undefined })
  })
  test('a reset connection is retried', () => {
    const outcome = classifyFailure(new RequestFailure('network', 'ECONNRESET: socket hang up', 'ECONNRESET'), context)
    assert.equal(outcome.kind, 'retry')
  })
  test('a TLS failure stops with a hint about --ca-file', () => {
    const outcome = classifyFailure(new RequestFailure('tls', 'self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'), context)
    assert.equal(outcome.kind, 'fatal')
    assert.match(outcome.kind === 'fatal' ? outcome.error.message : '', /--ca-file/)
  })
})

describe('parseRetryAfter', () => {
  test('reads seconds and HTTP dates, and caps both', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    assert.equal(parseRetryAfter('3', now), 3000)
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now), 10_000)
    assert.equal(parseRetryAfter('999999', now), RETRY_AFTER_MAX_MS)
    assert.equal(parseRetryAfter('soon', now), undefined)
    assert.equal(parseRetryAfter(undefined, now), undefined)
  })
})
