// The contract every log format implements: recognise a record, and turn it into an AccessEntry.
import type { FieldMap } from '../config/types.js'
import { createTimeZone, isRecord, pickPath, type JsonRecord, type ParseResult, type TimeZone } from './access-entry.js'

/** Compiled once per run and shared by every line. */
export interface ParseContext {
  /** Zone of times that carry no offset (--timezone). */
  readonly timeZone: TimeZone
  /** Path of the per-request tracking data (--tracking-data-key), split at its dots once. */
  readonly trackingDataPath: readonly string[]
  /** For the `fields` format. */
  readonly fields: FieldMap | undefined
  /** Whether X-Forwarded-Host/-Proto of an entry with this remote address are believed (--trusted-proxy). */
  readonly trustsForwardingFrom: (remoteAddress: string | undefined) => boolean
}

export interface LineFormat {
  readonly name: string
  /** True when a record has this format's keys; used by --format auto. Must be cheap and strict. */
  sniff: (record: JsonRecord) => boolean
  /** Never throws: bad values give a LineIssue. */
  parse: (record: JsonRecord, context: ParseContext) => ParseResult
}

export interface ParseContextOptions {
  timezone?: string
  trackingDataKey?: string
  fields?: FieldMap | undefined
  /** @default believe every entry's forwarding headers (no --trusted-proxy) */
  trustsForwardingFrom?: (remoteAddress: string | undefined) => boolean
}

export function createParseContext (options: ParseContextOptions = {}): ParseContext {
  return Object.freeze({
    timeZone: createTimeZone(options.timezone ?? 'UTC'),
    trackingDataPath: Object.freeze((options.trackingDataKey ?? 'matomo').split('.')),
    fields: options.fields,
    trustsForwardingFrom: options.trustsForwardingFrom ?? (() => true)
  })
}

/** The per-request Matomo params object of a record, if it logged one. */
export function trackingDataOf (record: JsonRecord, context: ParseContext): Record<string, unknown> | undefined {
  const path = context.trackingDataPath
  const data = path.length === 1 ? record[path[0] as string] : pickPath(record, path)
  return isRecord(data) ? data : undefined
}
