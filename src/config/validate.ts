// Coerces raw option values (from flags, env or a config file) to their types, collecting every problem.
import type { OptionSpec } from '../cli/options.js'

/** Where a raw value came from, for messages: "--idsite", "MATOMO_FORWARD_IDSITE", "config key idsite". */
export type ValueOrigin = string

export interface RawValue {
  value: unknown
  origin: ValueOrigin
  /** 0 default, 1 config file, 2 environment, 3 flag: a higher layer wins. */
  layer: number
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on'])
const FALSE_WORDS = new Set(['false', '0', 'no', 'off', ''])

function show (value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : JSON.stringify(value) ?? String(value)
}

/**
 * Returns the typed value, or pushes a message onto `problems` and returns undefined.
 * Messages say what was expected, what was got, and where it came from.
 */
export function coerceOption (spec: OptionSpec, raw: RawValue, problems: string[]): unknown {
  const { value, origin } = raw
  if (spec.secret === true) {
    // A secret is never echoed, not even when it is malformed. A number is refused: YAML reads an unquoted
    // token of digits as a number and loses digits (1.2345678901234567e+31), which Matomo would refuse.
    // Trimmed like the first line of a token file: MATOMO_FORWARD_ACCESS_TOKEN=$(cat f) keeps no newline, and a
    // blank token does not count as one (it would turn on cip and old hits, which Matomo then counts invalid).
    if (typeof value === 'string' && value.trim() !== '') return value.trim()
    const kind = Array.isArray(value) ? 'a list' : typeof value === 'string' ? 'an empty string' : `a ${value === null ? 'null' : typeof value}`
    problems.push(`Expected ${origin} to be a non-empty string${typeof value === 'number' ? ' (quote it in YAML: an unquoted token of digits is read as a number)' : ''}, got ${kind} (the value is not shown).`)
    return undefined
  }
  switch (spec.type) {
    case 'boolean': {
      if (typeof value === 'boolean') return value
      if (typeof value === 'string' && TRUE_WORDS.has(value.toLowerCase())) return true
      if (typeof value === 'string' && FALSE_WORDS.has(value.toLowerCase())) return false
      problems.push(`Expected ${origin} to be true or false, got ${show(value)}.`)
      return undefined
    }
    case 'integer': {
      if (typeof value === 'string' && spec.choices?.includes(value)) return value
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN
      const bounds = spec.max === undefined ? `≥ ${spec.min ?? 0}` : `from ${spec.min ?? 0} to ${spec.max}`
      const words = spec.choices === undefined ? '' : ` or ${spec.choices.join(', ')}`
      if (!Number.isSafeInteger(n) || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        problems.push(`Expected ${origin} to be an integer ${bounds}${words}, got ${show(value)}.`)
        return undefined
      }
      return n
    }
    case 'choice': {
      if (typeof value === 'string' && spec.choices?.includes(value)) return value
      problems.push(`Expected ${origin} to be one of ${spec.choices?.join(', ') ?? ''}, got ${show(value)}.`)
      return undefined
    }
    case 'list': {
      const list = toList(value, spec.noCommaSplit !== true)
      if (list === undefined) {
        problems.push(`Expected ${origin} to be a list of strings, got ${show(value)}.`)
        return undefined
      }
      return list
    }
    case 'string': {
      if (typeof value === 'string' && value !== '') return value
      if (typeof value === 'number') return String(value)
      problems.push(`Expected ${origin} to be a non-empty string, got ${show(value)}.`)
      return undefined
    }
  }
}

/** Lists come as arrays (flags, config) or as strings (env: a JSON array, else comma-separated). */
function toList (value: unknown, splitCommas = true): string[] | undefined {
  if (Array.isArray(value)) {
    const out: string[] = []
    for (const item of value) {
      if (typeof item === 'string') out.push(item)
      else if (typeof item === 'number') out.push(String(item))
      else return undefined
    }
    return out
  }
  if (typeof value === 'string') {
    const trimmed = value.trim()
    if (trimmed.startsWith('[')) {
      try {
        return toList(JSON.parse(trimmed), splitCommas)
      } catch {
        // Not a JSON array: for a pattern list it is one pattern that starts with a character class.
        return splitCommas ? undefined : [value]
      }
    }
    if (trimmed === '') return []
    return splitCommas ? trimmed.split(',').map((s) => s.trim()).filter((s) => s !== '') : [value]
  }
  return undefined
}

/** Escapes (kept as they are unless \A or \Z), {,n}, and Python's named-group syntax, left to right. */
const PYTHON_ONLY = /\\[\s\S]|\{,(\d+)\}|\(\?P<|\(\?P=\w+\)/g

const INLINE_FLAGS = /^(?:\(\?[aiLmsux]+\))+/

/** Compiles an exclude pattern with Python re.match semantics (anchored at the start only). */
export function compileStartAnchored (pattern: string): RegExp {
  // The sticky flag anchors every match at lastIndex (0) without rewriting the pattern,
  // so alternations like "a|b" keep their meaning.
  // Python-only syntax is translated so patterns written for asgi-matomo keep working: named groups, \A and \Z
  // (start and end of the string; in a JS regex without the u flag they would be the letters A and Z, matching
  // nothing the user meant), and {,n} (JS reads it as literal text).
  // Python's global inline flags, only allowed at the start (one group or several: (?i)(?s)), become the
  // regex's own flags.
  const inline = INLINE_FLAGS.exec(pattern)
  let flags = 'y'
  if (inline !== null) {
    const given = inline[0]
    if (given.includes('x')) throw new SyntaxError('verbose patterns, (?x), are not supported: write the pattern without its spaces and comments')
    if (given.includes('L')) throw new SyntaxError('(?L) applies to bytes patterns only, and Python refuses it for text patterns such as paths')
    // a and u choose ASCII or Unicode classes for \w and the like: JavaScript's are ASCII.
    for (const flag of 'ims') if (given.includes(flag)) flags += flag
  }
  const body = inline === null ? pattern : pattern.slice(inline[0].length)
  const js = body.replace(PYTHON_ONLY, (token: string, upTo: string | undefined) => {
    if (upTo !== undefined) return `{0,${upTo}}`
    // The very start and end of the path, also under (?m), where ^ and $ match at line ends.
    if (token === '\\A') return '(?<![\\s\\S])'
    if (token === '\\Z') return '(?![\\s\\S])'
    if (token === '(?P<') return '(?<'
    if (token.startsWith('(?P=')) return `\\k<${token.slice(4, -1)}>`
    return token
  })
  return new RegExp(js, flags)
}
