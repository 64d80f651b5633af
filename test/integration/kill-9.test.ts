// kill -9 at random moments, restart, repeat: every line is acknowledged, duplicates stay within the in-flight bound.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { accessLines } from '../helpers/log-lines.js'
import { tmpDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait-for.js'

const CHILD = fileURLToPath(new URL('../helpers/forward-child.ts', import.meta.url))
const LINES = 4000
const BATCH_SIZE = 10
const CONCURRENCY = 2
const DELAY_MS = 10
const KILLS = 5

function ackedIds (path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : []
}

/** Deterministic pseudo-random numbers (a seeded LCG): the kill moments are random but reproducible. */
function seeded (seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648
  }
}

function startChild (args: string[]): { child: ChildProcess, exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'ignore', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => { child.on('exit', (code) => { resolve(code) }) })
  return { child, exited }
}

test('kill -9 at random moments: every line arrives, duplicates stay within concurrency × batch size per kill', async (t) => {
  const dir = tmpDir(t)
  const file = join(dir, 'access.log')
  const acked = join(dir, 'acked.txt')
  writeFileSync(file, accessLines(0, LINES))
  const args = [file, join(dir, 'state'), acked, String(BATCH_SIZE), String(CONCURRENCY), String(DELAY_MS)]
  const random = seeded(Number(process.env.MF_KILL_SEED ?? 20251125))
  let kills = 0
  for (let i = 0; i < KILLS; i++) {
    const before = ackedIds(acked).length
    const { child, exited } = startChild(args)
    // Kill while it is delivering, not while it is still starting.
    await waitFor('the child to deliver', () => ackedIds(acked).length > before + BATCH_SIZE || child.exitCode !== null)
    await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 150)))
    if (child.exitCode === null) {
      child.kill('SIGKILL')
      kills++
    }
    await exited
    if (process.env.MF_KILL_DEBUG === '1') {
      const all = ackedIds(acked)
      const cp = existsSync(join(dir, 'state', 'checkpoints.json')) ? readFileSync(join(dir, 'state', 'checkpoints.json'), 'utf8').match(/"line": (\d+)/)?.[1] : '-'
      t.diagnostic(`after kill ${i}: acked ${all.length}, unique ${new Set(all).size}, checkpoint line ${cp}`)
    }
  }
  const last = startChild(args)
  assert.equal(await last.exited, 0, 'the last run finishes')

  const ids = ackedIds(acked).filter((id) => id !== 'done')
  const counts = new Map<string, number>()
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1)
  for (let i = 0; i < LINES; i++) assert.ok(counts.has(String(i)), `line ${i} was never acknowledged`)
  const duplicates = ids.length - counts.size
  const bound = kills * CONCURRENCY * BATCH_SIZE
  t.diagnostic(`${kills} kills, ${duplicates} duplicates (bound ${bound})`)
  assert.ok(kills >= 3, `the test killed the child mid-run (${kills} times)`)
  assert.ok(duplicates <= bound, `${duplicates} duplicates after ${kills} kills exceed ${bound}`)
})
