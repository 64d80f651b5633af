// Polls a condition until it holds or a timeout passes; the error says what was awaited.
import { setTimeout as delay } from 'node:timers/promises'

const DEFAULT_TIMEOUT_MS = Number(process.env.MATOMO_FORWARD_TEST_TIMEOUT_MS ?? 10_000)

export async function waitFor (condition: () => boolean | Promise<boolean>, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await delay(5)
  }
}
