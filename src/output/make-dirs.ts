// mkdir -p without Node's recursive mkdir, which spins forever on some paths (under /proc, Node 20-24).
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

/** Creates `dir` and its missing parents, one level at a time; throws the first error (ENOENT, EACCES...). */
export function makeDirs (dir: string, mode?: number): void {
  const missing: string[] = []
  for (let current = resolve(dir); !existsSync(current); current = dirname(current)) {
    missing.push(current)
    if (dirname(current) === current) break
  }
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path, { mode })
    } catch (err) {
      // Another process may have made it meanwhile.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
  }
}
