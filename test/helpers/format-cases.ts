// Table-driven format tests: parse fixture lines with one format and compare with expected entry fields or issues.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { isLineIssue, type AccessEntry, type ParseResult } from '../../src/formats/access-entry.js'
import { createParseContext, type LineFormat, type ParseContext } from '../../src/formats/format.js'
import { parseJsonLine } from '../../src/formats/parse-line.js'
import { fixture } from './run-forward.js'

export type Expected = Partial<AccessEntry> | { issue: string, kind?: 'reject' | 'skip' }

export interface Case {
  name: string
  /** The JSON line, or a record to serialise. */
  line: string | Record<string, unknown>
  expected: Expected
}

export function fixtureLines (name: string): string[] {
  return readFileSync(fixture(name), 'utf8').split('\n').filter((l) => l !== '')
}

export function parseWith (format: LineFormat, line: string | Record<string, unknown>, context: ParseContext = createParseContext()): ParseResult {
  const record = parseJsonLine(typeof line === 'string' ? line : JSON.stringify(line))
  if (isLineIssue(record)) return record
  return format.parse(record, context)
}

export function checkResult (result: ParseResult, expected: Expected): void {
  if ('issue' in expected) {
    assert.ok(isLineIssue(result), `expected issue ${expected.issue}, got an entry: ${JSON.stringify(result)}`)
    assert.equal(result.reason, expected.issue)
    assert.equal(result.kind, expected.kind ?? 'reject')
    return
  }
  assert.ok(!isLineIssue(result), `expected an entry, got ${isLineIssue(result) ? `${result.reason}: ${result.message}` : ''}`)
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual((result as unknown as Record<string, unknown>)[key], value, `field ${key}`)
  }
}

/** One test() per case. */
export function runCases (format: LineFormat, cases: readonly Case[], context?: ParseContext): void {
  for (const c of cases) {
    test(c.name, () => checkResult(parseWith(format, c.line, context), c.expected))
  }
}
