// Whether a file we will write later (reject file, summary file) can be written: checked at start, before any input is read.
import { accessSync, constants, existsSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { errors } from '../errors.js'

/** Throws MF_ERR_OUTPUT_WRITE unless the file (if it exists) or the nearest existing directory it would be created under is writable. */
export function checkWritable (path: string): void {
  let target = resolve(path)
  try {
    if (existsSync(target)) {
      // A directory cannot be written; /dev/stderr, a FIFO read by a collector and regular files can.
      if (statSync(target).isDirectory()) throw Object.assign(new Error('a directory'), { code: 'EISDIR' })
    } else {
      while (!existsSync(target)) target = dirname(target)
      if (!statSync(target).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
    }
    accessSync(target, constants.W_OK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const what = code === 'ENOTDIR' ? ` (${target} is not a directory)` : target === resolve(path) ? '' : ` (${target} is not writable)`
    throw errors.MF_ERR_OUTPUT_WRITE(path, `${code ?? (err as Error).message}${what}`, { cause: err })
  }
}
