// Resolved configurations for in-process pipeline tests (a test sink replaces Matomo).
import { resolveConfig } from '../../src/config/resolve.js'
import type { CommandName, Config } from '../../src/config/types.js'
import { createLogger, type Logger } from '../../src/log.js'

export function testConfig (command: CommandName, files: readonly string[], stateDir: string, flags: Record<string, unknown> = {}): Config {
  return resolveConfig({
    command,
    files,
    flags: { 'matomo-url': 'http://127.0.0.1:9/matomo.php', idsite: 1, format: 'nginx-json', 'state-dir': stateDir, ...flags },
    env: {}
  })
}

export function silentLogger (): Logger {
  return createLogger(process.env.MF_TEST_LOG_LEVEL ?? 'silent')
}
