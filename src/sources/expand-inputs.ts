// Expands the input arguments (paths, globs, - for stdin) into files in reading order: a rotated set oldest first.
import { stat } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import picomatch from 'picomatch'
import { glob, isDynamicPattern } from 'tinyglobby'

export const STDIN = '-'

export interface ExpandedInputs {
  /** Absolute file paths, and '-' for stdin, in reading order, each once. */
  readonly inputs: readonly string[]
  /** Arguments (as given) that matched no file. */
  readonly unmatched: readonly string[]
}

/** A glob or literal path made absolute, and what `tail` watches for it. */
export interface InputPattern {
  /** As given on the command line. */
  readonly given: string
  /** Absolute pattern (or path). */
  readonly pattern: string
  readonly isGlob: boolean
  /** The directory that holds every match: the part of the pattern before its first glob segment. */
  readonly base: string
  /** Whether matches can be below base's direct children (** or a glob in a directory segment). */
  readonly deep: boolean
  readonly matches: (path: string) => boolean
}

export function isGlobPattern (input: string): boolean {
  return isDynamicPattern(input)
}

/** Makes each argument (other than '-') absolute and compiles its matcher. */
export function compilePatterns (args: readonly string[], cwd: string): InputPattern[] {
  const patterns: InputPattern[] = []
  for (const given of args) {
    if (given === STDIN) continue
    const absolute = isAbsolute(given) ? given : join(cwd, given)
    if (!isGlobPattern(given)) {
      const path = resolve(absolute)
      patterns.push({ given, pattern: path, isGlob: false, base: dirname(path), deep: false, matches: (p) => p === path })
      continue
    }
    const scan = picomatch.scan(absolute)
    const base = scan.base === '' ? '/' : scan.base
    const matcher = picomatch(absolute, { dot: true })
    patterns.push({ given, pattern: absolute, isGlob: true, base, deep: scan.glob.includes('/'), matches: (p) => matcher(p) })
  }
  return patterns
}

/**
 * Expands arguments in the order given; within one glob, files sort by rotation age (oldest first). A file
 * named twice is read once, where it first appears.
 */
export async function expandInputs (args: readonly string[], cwd: string): Promise<ExpandedInputs> {
  const inputs: string[] = []
  const seen = new Set<string>()
  const unmatched: string[] = []
  const compiled = new Map(compilePatterns(args, cwd).map((p) => [p.given, p]))
  for (const given of args) {
    // Opening /dev/stdin fails when standard input is a socket (ENXIO): it is standard input, so read it as such.
    if (given === STDIN || STDIN_ALIASES.has(given)) {
      if (!seen.has(STDIN)) inputs.push(STDIN)
      seen.add(STDIN)
      continue
    }
    const pattern = compiled.get(given) as InputPattern
    let found: string[]
    if (!pattern.isGlob || await isFile(pattern.pattern)) {
      // A literal path; also a file whose name merely looks like a glob (access[1].log).
      found = await isFile(pattern.pattern) ? [resolve(pattern.pattern)] : []
    } else {
      found = (await glob(pattern.pattern, { absolute: true, onlyFiles: true, dot: true, expandDirectories: false, followSymbolicLinks: true }))
        .map((p) => resolve(p))
        .sort(compareRotation)
    }
    if (found.length === 0) unmatched.push(given)
    for (const path of found) {
      if (seen.has(path)) continue
      seen.add(path)
      inputs.push(path)
    }
  }
  return { inputs, unmatched }
}

/** An unmatched argument for the error message, with a hint when it names a directory. */
export async function describeUnmatched (given: string, cwd: string): Promise<string> {
  try {
    if ((await stat(resolve(cwd, given))).isDirectory()) return `${given} (a directory: name its files, e.g. ${join(given, '*.log')})`
  } catch {
    // Missing: the argument as given says it.
  }
  return given
}

/** Anything readable but a directory: regular files, and /dev/stdin or named pipes given by name. */
const STDIN_ALIASES = new Set(['/dev/stdin', '/dev/fd/0', '/proc/self/fd/0'])

async function isFile (path: string): Promise<boolean> {
  try {
    return !(await stat(path)).isDirectory()
  } catch {
    return false
  }
}

const COMPRESSION = /\.(?:gz|bz2|xz|zst|lz4|z)$/i
const NUMBERED = /^(.*)\.(\d{1,6})$/
const DATED = /^(.*)[-_.](\d{8}(?:\d{2,6})?|\d{4}-\d{2}-\d{2}(?:[T_-]?\d{2}(?::?\d{2}){0,2})?)$/

interface RotationKey {
  /** The live file's name this one was rotated from. */
  stem: string
  /** 0: numbered (access.log.3), 1: dated (access.log-20240101), 2: the live file. */
  kind: 0 | 1 | 2
  /** Rotation number (larger is older) or date text (larger is newer). */
  rank: number | string
}

export function rotationKey (path: string): RotationKey {
  const dir = dirname(path)
  const name = basename(path).replace(COMPRESSION, '')
  const numbered = NUMBERED.exec(name)
  if (numbered !== null) return { stem: join(dir, numbered[1] as string), kind: 0, rank: Number(numbered[2]) }
  const dated = DATED.exec(name)
  if (dated !== null) return { stem: join(dir, dated[1] as string), kind: 1, rank: dated[2] as string }
  return { stem: join(dir, name), kind: 2, rank: 0 }
}

/**
 * Oldest first within a rotated set: access.log.3.gz, access.log.2.gz, access.log.1, access.log; dated
 * suffixes ascending (access.log-20240101.gz before access.log-20240102). Sets sort by name.
 */
export function compareRotation (a: string, b: string): number {
  const ka = rotationKey(a)
  const kb = rotationKey(b)
  if (ka.stem !== kb.stem) return ka.stem < kb.stem ? -1 : 1
  if (ka.kind !== kb.kind) return ka.kind - kb.kind
  if (ka.kind === 0 && ka.rank !== kb.rank) return (kb.rank as number) - (ka.rank as number)
  if (ka.kind === 1 && ka.rank !== kb.rank) return ka.rank < kb.rank ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}
