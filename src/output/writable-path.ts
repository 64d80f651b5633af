// Whether a file we will write later (reject file, summary file) can be written: checked at start, before any input is read.
import { accessSync, closeSync, constants, existsSync, openSync, statSync, unlinkSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join, resolve } from 'node:path'
import { errors } from '../errors.js'
import { makeDirs } from './make-dirs.js'

/**
 * Throws MF_ERR_OUTPUT_WRITE unless `path` can be opened for appending. An existing regular file is really opened
 * (append, nothing written); for a new file, a uniquely named probe file is created in its directory (made with its
 * missing parents) and removed: access(W_OK) says yes to root where open() fails (sysfs, procfs, NFS with
 * root_squash), which was found only at the first write, after hits were sent. The path itself is never created or
 * removed here (it may be a dangling symlink, or another run's reject file appearing meanwhile). Devices and FIFOs
 * (/dev/stderr, a collector's pipe) are only checked with access(): opening a FIFO blocks until it has a reader.
 */
export function checkWritable (path: string): void {
  const target = resolve(path)
  try {
    if (existsSync(target)) {
      const stat = statSync(target)
      if (stat.isDirectory()) throw Object.assign(new Error('a directory'), { code: 'EISDIR' })
      if (stat.isFile()) closeSync(openSync(target, 'a'))
      else accessSync(target, constants.W_OK)
      return
    }
    const dir = dirname(target)
    const parent = nearestExisting(dir)
    if (!statSync(parent).isDirectory()) throw Object.assign(new Error(`${parent} is not a directory`), { code: 'ENOTDIR' })
    makeDirs(dir)
    const probe = join(dir, `.${basename(target)}.probe-${process.pid}-${randomBytes(4).toString('hex')}`)
    closeSync(openSync(probe, 'wx'))
    try {
      unlinkSync(probe)
    } catch {
      // An append-only directory (chattr +a) refuses unlink but takes appends: writable all the same.
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const message = (err as Error).message
    throw errors.MF_ERR_OUTPUT_WRITE(path, code === undefined || message.includes(code) ? message : `${code} (${message})`, { cause: err })
  }
}

function nearestExisting (dir: string): string {
  let current = dir
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current)
  return current
}
