// Turns one raw log line into a JSON record, or a LineIssue; never throws.
import { isRecord, reject, type JsonRecord, type LineIssue } from './access-entry.js'

const HEX_ESCAPE = /\\x[0-9a-fA-F]{2}/
/** An escaped backslash (kept as it is), or a run of \xHH escapes. Pairs are matched first, left to right, so
 * the "\x41" in the JSON text `\\x41` (a literal backslash, then "x41") is never taken for an escape. */
const ESCAPES = /\\\\|(?:\\x[0-9a-fA-F]{2})+/g
const X_PREFIX = /\\x/g

/**
 * JSON.parse with the one repair real logs need: nginx without `escape=json` writes `"`, `\`, control bytes and
 * every non-ASCII byte as `\xHH`, which JSON does not allow. Those lines are re-read with the escapes turned into
 * the UTF-8 text of the bytes they stand for (invalid UTF-8 becomes U+FFFD).
 */
export function parseJsonLine (text: string): JsonRecord | LineIssue {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    if (!HEX_ESCAPE.test(text)) return reject('invalid_json', (err as Error).message)
    try {
      value = JSON.parse(decodeHexEscapes(text))
    } catch (err2) {
      return reject('invalid_json', (err2 as Error).message)
    }
  }
  if (!isRecord(value)) return reject('not_an_object', `JSON ${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value} instead of an object`)
  return value
}

/** Replaces runs of `\xHH` by the UTF-8 text of those bytes, escaped for JSON. */
export function decodeHexEscapes (text: string): string {
  return text.replace(ESCAPES, (run) => {
    if (run === '\\\\') return run
    const bytes = Buffer.from(run.replace(X_PREFIX, ''), 'hex')
    return JSON.stringify(bytes.toString('utf8')).slice(1, -1)
  })
}
