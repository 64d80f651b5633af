// The contract every log format implements: recognise a record, and turn it into an AccessEntry.
import type { FieldMap } from '../config/types.js'
import type { JsonRecord, ParseResult, TimeZone } from './access-entry.js'

/** Compiled once per run and shared by every line. */
export interface ParseContext {
  /** Zone of times that carry no offset (--timezone). */
  readonly timeZone: TimeZone
  /** Dotted path of the per-request tracking data (--tracking-data-key). */
  readonly trackingDataKey: string
  /** For the `fields` format. */
  readonly fields: FieldMap | undefined
}

export interface LineFormat {
  readonly name: string
  /** True when a record has this format's keys; used by --format auto. Must be cheap and strict. */
  sniff: (record: JsonRecord) => boolean
  /** Never throws: bad values give a LineIssue. */
  parse: (record: JsonRecord, context: ParseContext) => ParseResult
}
