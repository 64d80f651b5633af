// Heap governor: collects when the heap in use passes its floor, caps the young generation, stops when told.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { getHeapSpaceStatistics } from 'node:v8'
import { BUSY_HEAP_FACTOR, collectionThreshold, HEAP_FLOOR_BYTES, IDLE_HEAP_FACTOR, startHeapGovernor } from '../../../src/cli/heap-governor.js'
import { waitFor } from '../../helpers/wait-for.js'

test('forces a full collection once the heap in use passes the floor, then stops when told', async () => {
  const governor = startHeapGovernor(1)
  assert.ok(governor !== undefined, 'gc can be exposed on this Node')
  let garbage: unknown[] = []
  const churn = setInterval(() => { garbage = Array.from({ length: 10_000 }, (_, i) => ({ i })) }, 10)
  try {
    await waitFor('a forced collection', () => governor.collections >= 1, { timeoutMs: 10_000 })
  } finally {
    clearInterval(churn)
    governor.stop()
  }
  const after = governor.collections
  await new Promise((resolve) => setTimeout(resolve, 450))
  assert.equal(governor.collections, after, 'no collection after stop()')
  assert.ok(Array.isArray(garbage))
})

test('stops the young generation growing once it reaches its cap', async () => {
  const newSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0
  // A cap at the current size: the first check caps it. The churn below doubles an uncapped young generation
  // at least twice within a second (8 → 16 → 32 MiB on Node 20).
  const start = newSpace()
  const governor = startHeapGovernor(HEAP_FLOOR_BYTES, start)
  assert.ok(governor !== undefined)
  await waitFor('the young generation capped', () => governor.youngCapped, { timeoutMs: 5000 })
  const capped = newSpace()
  // Objects that survive a scavenge or two, allocated fast: what makes V8 grow the young generation.
  let keep: unknown[] = []
  const churn = setInterval(() => {
    keep = keep.length > 200_000 ? [] : keep
    for (let i = 0; i < 50_000; i++) keep.push({ i, s: 'x' + i })
  }, 1)
  let largest = 0
  const sample = setInterval(() => { largest = Math.max(largest, newSpace()) }, 5)
  try {
    await new Promise((resolve) => setTimeout(resolve, 1500))
  } finally {
    clearInterval(churn)
    clearInterval(sample)
    governor.stop()
  }
  assert.ok(largest <= capped, `new space grew from ${capped} to ${largest} after the cap`)
})

test('collects past twice the live heap while CPU-bound, past 1.25 times while mostly waiting, never below the floor', () => {
  const MiB = 1024 * 1024
  assert.equal(collectionThreshold(undefined, 1, HEAP_FLOOR_BYTES), HEAP_FLOOR_BYTES, 'before the first collection: the floor')
  assert.equal(collectionThreshold(20 * MiB, 0.9, HEAP_FLOOR_BYTES), BUSY_HEAP_FACTOR * 20 * MiB)
  assert.equal(collectionThreshold(20 * MiB, 0.25, HEAP_FLOOR_BYTES), IDLE_HEAP_FACTOR * 20 * MiB)
  assert.ok(IDLE_HEAP_FACTOR < BUSY_HEAP_FACTOR)
  assert.equal(collectionThreshold(4 * MiB, 0.1, HEAP_FLOOR_BYTES), HEAP_FLOOR_BYTES, 'a small live heap: the floor')
})
