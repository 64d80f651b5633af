// --format auto: sniffs records by their keys and picks the one format that fits, or explains why it cannot.
import type { JsonRecord } from './access-entry.js'
import type { LineFormat } from './format.js'
import { FORMATS } from './index.js'

/** Lines looked at before giving up; they are held, then processed, so none is lost. */
export const DETECTION_MAX_LINES = 50

export interface Detection {
  format: LineFormat | undefined
  /** Set when one record fits several formats. */
  ambiguous: readonly string[] | undefined
  /** Why no format was picked, with the keys seen and the --format to use. */
  explanation: string
}

export function detectFormat (records: readonly JsonRecord[], formats: Iterable<LineFormat> = FORMATS.values()): Detection {
  const candidates = [...formats].filter((f) => f.name !== 'fields')
  for (const record of records) {
    const fits = candidates.filter((f) => f.sniff(record))
    if (fits.length === 1) return { format: fits[0], ambiguous: undefined, explanation: '' }
    if (fits.length > 1) {
      const names = fits.map((f) => f.name)
      return {
        format: undefined,
        ambiguous: names,
        explanation: `a line with keys ${keysOf(record)} fits several formats (${names.join(', ')}); choose one with --format ${names.join('|')}`
      }
    }
  }
  const seen = records.length === 0 ? 'no JSON object lines' : `lines with keys ${keysOf(records[0] as JsonRecord)}`
  return {
    format: undefined,
    ambiguous: undefined,
    explanation: `saw ${seen} in the first ${records.length} JSON lines, which fit none of ${candidates.map((f) => f.name).join(', ')}; choose one with --format, or --format fields with a fields map`
  }
}

function keysOf (record: JsonRecord): string {
  const keys = Object.keys(record)
  return keys.slice(0, 12).join(', ') + (keys.length > 12 ? ', …' : '')
}
