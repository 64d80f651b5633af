// Where the built CLI is, and a hook that rebuilds dist/ when it is missing or older than src/ (spawn tests run dist/).
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dirname, '../..')
export const BIN = join(ROOT, 'bin', 'matomo-forward.js')

function newestMtime (dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

/** Use as `before(ensureBuilt)` in spawn tests. */
export function ensureBuilt (): void {
  const built = join(ROOT, 'dist', 'cli', 'main.js')
  if (!existsSync(built) || statSync(built).mtimeMs < newestMtime(join(ROOT, 'src'))) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' })
  }
}
