// Heap governor: collects when the heap in use passes its floor, and stops when told.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startHeapGovernor } from '../../../src/cli/heap-governor.js'
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
