// Polls a condition until it holds or a timeout expires; the error says what was awaited (no sleeps as assertions).
const DEFAULT_TIMEOUT_MS = Number(process.env.MF_TEST_WAIT_MS ?? 10_000)

export async function waitFor<T> (what: string, check: () => T | undefined | false | Promise<T | undefined | false>, options: { timeoutMs?: number, intervalMs?: number } = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const intervalMs = options.intervalMs ?? 10
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
