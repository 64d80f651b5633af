// Access log lines with unique ids (nginx JSON), and a way to get the id back from a hit.
import type { Hit } from '../../src/sink/sink.js'

/** An hour ago: recent enough that Matomo needs no token for it (older hits are rejected as cdt_requires_token). */
const RECENT = new Date(Date.now() - 3_600_000).toISOString().slice(0, 19) + '+00:00'

/** One nginx-json access line (with its newline) whose path carries the id. */
export function accessLine (id: number | string): string {
  return JSON.stringify({ ip: '203.0.113.9', host: 'www.example.org', path: `/l/${id}`, status: 200, user_agent: 'test-agent', date: RECENT }) + '\n'
}

export function accessLines (from: number, to: number, prefix = ''): string {
  let text = ''
  for (let i = from; i < to; i++) text += accessLine(prefix + String(i))
  return text
}

/** The id a line was written with, from the hit's URL. */
export function hitId (hit: Hit): string {
  const url = String(hit.params.url)
  const match = /\/l\/([^?#]+)/.exec(url)
  if (match === null) throw new Error(`hit without an id: ${url}`)
  return match[1] as string
}
