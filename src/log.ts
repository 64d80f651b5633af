// The tool's own logs: pino JSON lines on stderr, with the token redacted wherever it could appear.
import { pino, type Logger } from 'pino'

export type { Logger }

export function createLogger (level: string, destination: NodeJS.WritableStream | number = 2): Logger {
  const stream = typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination
  return pino({
    level,
    base: { name: 'matomo-forward' },
    redact: { paths: ['token_auth', '*.token_auth', 'accessToken', '*.accessToken', 'params.token_auth'], censor: '<redacted>' }
  }, stream)
}

/** Logs the first `burst` events of a kind, then at most one summary line per interval. */
export function createRateLimiter (burst = 10, intervalMs = 5000): (kind: string) => { log: boolean, suppressed: number } {
  const state = new Map<string, { seen: number, suppressed: number, lastAt: number }>()
  return (kind) => {
    const now = Date.now()
    let s = state.get(kind)
    if (s === undefined) {
      s = { seen: 0, suppressed: 0, lastAt: 0 }
      state.set(kind, s)
    }
    s.seen++
    if (s.seen <= burst || now - s.lastAt >= intervalMs) {
      const suppressed = s.suppressed
      s.suppressed = 0
      s.lastAt = now
      return { log: true, suppressed }
    }
    s.suppressed++
    return { log: false, suppressed: 0 }
  }
}
