// --format auto: the one format that fits, never pino for Traefik, and a message when none or several fit.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { JsonRecord } from '../../../src/formats/access-entry.js'
import { detectFormat } from '../../../src/formats/detect.js'
import type { LineFormat } from '../../../src/formats/format.js'
import { FORMATS, chooseFormat } from '../../../src/formats/index.js'
import { parseJsonLine } from '../../../src/formats/parse-line.js'
import { fixtureLines } from '../../helpers/format-cases.js'

function records (name: string): JsonRecord[] {
  return fixtureLines(name).map(parseJsonLine).filter((r): r is JsonRecord => !('reason' in r && 'kind' in r))
}

describe('detectFormat', () => {
  for (const [fixture, format] of [
    ['pino-http.ndjson', 'pino-http'],
    ['nginx-json.ndjson', 'nginx-json'],
    ['nginx-variables.ndjson', 'nginx-json'],
    ['caddy.ndjson', 'caddy'],
    ['traefik.ndjson', 'traefik']
  ] as const) {
    test(`${fixture} is ${format}`, () => assert.equal(detectFormat(records(fixture)).format?.name, format))
  }

  test('each fixture line fits at most one format', () => {
    for (const name of ['pino-http.ndjson', 'nginx-json.ndjson', 'nginx-variables.ndjson', 'caddy.ndjson', 'traefik.ndjson']) {
      for (const record of records(name)) {
        const fits = [...FORMATS.values()].filter((f) => f.sniff(record)).map((f) => f.name)
        assert.ok(fits.length <= 1, `${name}: ${JSON.stringify(record)} fits ${fits.join(', ')}`)
      }
    }
  })

  test('a pino line is never taken for Traefik, even first and alone', () => {
    const pinoPlain = { level: 30, time: 1764064800000, pid: 1, hostname: 'h', msg: 'listening' }
    const d = detectFormat([pinoPlain])
    assert.equal(d.format, undefined)
    assert.equal(d.ambiguous, undefined)
    assert.doesNotMatch(d.explanation, /fits several/)
    const pinoHttp = { ...pinoPlain, req: { url: '/' }, res: { statusCode: 200 }, msg: 'request completed' }
    assert.equal(detectFormat([pinoPlain, pinoHttp]).format?.name, 'pino-http')
  })

  test('an nginx line without referrer is detected (import_logs.py cannot)', () => {
    assert.equal(detectFormat([{ ip: '1.2.3.4', host: 'h', path: '/', status: '200', user_agent: 'UA', date: '2024-03-10T10:00:00Z' }]).format?.name, 'nginx-json')
  })

  test('none fits: the message names the keys seen and the --format choices', () => {
    const d = detectFormat([{ when: 1, what: '/x' }, { when: 2, what: '/y' }, { other: true }])
    assert.equal(d.format, undefined)
    assert.match(d.explanation, /saw 3 JSON lines with keys \(when, what\) and \(other\)/)
    assert.match(d.explanation, /--format pino-http\|nginx-json\|caddy\|traefik\|fields/)
  })

  test('no JSON lines at all', () => {
    assert.match(detectFormat([]).explanation, /no JSON object lines/)
  })

  test('several fit one line: stop, naming them', () => {
    const a: LineFormat = { name: 'a', sniff: () => true, parse: () => { throw new Error('unused') } }
    const b: LineFormat = { ...a, name: 'b' }
    const d = detectFormat([{ x: 1 }], [a, b])
    assert.deepEqual(d.ambiguous, ['a', 'b'])
    assert.match(d.explanation, /fits several formats \(a, b\); choose one with --format a\|b/)
  })
})

describe('chooseFormat', () => {
  test('auto without a fields map sniffs each source', () => assert.equal(chooseFormat('auto', undefined), undefined))
  test('a named format', () => assert.equal(chooseFormat('caddy', undefined)?.name, 'caddy'))
  test('a fields map with auto or fields is the fields format', () => {
    const map = { time: 't', path: 'p' }
    assert.equal(chooseFormat('auto', map)?.name, 'fields')
    assert.equal(chooseFormat('fields', map)?.name, 'fields')
    assert.equal(chooseFormat('pino-http', map)?.name, 'pino-http')
  })
})
