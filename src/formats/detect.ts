// --format auto: sniffs records by their keys and picks the one format that fits, or explains why it cannot.
import type { JsonRecord } from './access-entry.js'
import type { LineFormat } from './format.js'
import { FORMATS } from './index.js'

/**
 * JSON lines looked at before giving up. They are held, then processed with the format found, so none is
 * lost; plain log lines before the first request (an app's startup lines) do not count against a format.
 */
export const DETECTION_MAX_LINES = 1000

export interface Detection {
  format: LineFormat | undefined
  /** Set when one record fits several formats. */
  ambiguous: readonly string[] | undefined
  /** Why no format was picked, with the keys seen and the --format to use. */
  explanation: string
}

const FORMAT_CHOICES = [...FORMATS.keys(), 'fields'].join('|')

/** The formats a record fits (cheap: each sniff looks at a few keys). */
export function formatsFitting (record: JsonRecord, formats: Iterable<LineFormat> = FORMATS.values()): LineFormat[] {
  const fits: LineFormat[] = []
  for (const format of formats) if (format.sniff(record)) fits.push(format)
  return fits
}

/** Decides on the first record that fits exactly one format; several fitting one record is an error, not a guess. */
export function detectFormat (records: readonly JsonRecord[], formats: Iterable<LineFormat> = FORMATS.values()): Detection {
  const candidates = [...formats].filter((f) => f.name !== 'fields')
  for (const record of records) {
    const fits = formatsFitting(record, candidates)
    if (fits.length === 1) return { format: fits[0], ambiguous: undefined, explanation: '' }
    if (fits.length > 1) return ambiguity(record, fits)
  }
  return noFit(records, candidates)
}

export function ambiguity (record: JsonRecord, fits: readonly LineFormat[]): Detection {
  const names = fits.map((f) => f.name)
  return {
    format: undefined,
    ambiguous: names,
    explanation: `a line with keys ${keysOf(record)} fits several formats (${names.join(', ')}); choose one with --format ${names.join('|')}`
  }
}

export function noFit (records: readonly JsonRecord[], candidates: Iterable<LineFormat> = FORMATS.values()): Detection {
  const names = [...candidates].map((f) => f.name).join(', ')
  const seen = records.length === 0
    ? 'no JSON object lines'
    : `${records.length} JSON line${records.length === 1 ? '' : 's'} with keys ${distinctKeySets(records)}`
  return {
    format: undefined,
    ambiguous: undefined,
    explanation: `saw ${seen}, which fit none of ${names}; choose one with --format ${FORMAT_CHOICES} (fields needs a fields map in the config file, see docs/formats.md)`
  }
}

/** Up to three distinct key sets, so a message shows both an app's log lines and its other lines. */
function distinctKeySets (records: readonly JsonRecord[]): string {
  const sets: string[] = []
  for (const record of records) {
    const keys = keysOf(record)
    if (!sets.includes(keys)) sets.push(keys)
    if (sets.length === 3) break
  }
  return sets.map((s) => `(${s})`).join(' and ')
}

function keysOf (record: JsonRecord): string {
  const keys = Object.keys(record)
  return keys.slice(0, 12).join(', ') + (keys.length > 12 ? ', …' : '')
}
