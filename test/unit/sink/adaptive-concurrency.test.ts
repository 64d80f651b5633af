// AIMD in-flight limit: starts at 1, ramps up on fast clean answers with demand, halves on trouble, stays ≤ ceiling.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createAdaptiveConcurrency } from '../../../src/sink/adaptive-concurrency.js'

describe('createAdaptiveConcurrency', () => {
  test('starts with one request in flight', () => {
    assert.equal(createAdaptiveConcurrency(8).limit, 1)
  })

  test('ramps up one step per fast answer while requests wait, never above the ceiling', () => {
    const c = createAdaptiveConcurrency(3)
    for (let i = 0; i < 10; i++) c.succeeded(10, true)
    assert.equal(c.limit, 3)
  })

  test('does not ramp up without demand, nor on slow answers', () => {
    const c = createAdaptiveConcurrency(8)
    c.succeeded(10, false)
    assert.equal(c.limit, 1)
    c.succeeded(10, true)
    assert.equal(c.limit, 2)
    c.succeeded(100, true)
    assert.equal(c.limit, 2)
  })

  test('halves on overload, down to 1', () => {
    const c = createAdaptiveConcurrency(16)
    for (let i = 0; i < 20; i++) c.succeeded(5, true)
    assert.equal(c.limit, 16)
    c.overloaded()
    assert.equal(c.limit, 8)
    c.overloaded()
    c.overloaded()
    c.overloaded()
    c.overloaded()
    assert.equal(c.limit, 1)
  })

  test('does not climb back into the level that failed until Matomo has been calm for a while', () => {
    const c = createAdaptiveConcurrency(16)
    // Slow start: doubles on each fast answer with demand until the first overload.
    for (let i = 0; i < 2; i++) c.succeeded(10, true)
    assert.equal(c.limit, 4)
    c.succeeded(10, true)
    c.overloaded()
    assert.equal(c.limit, 4, 'halved from 8')
    for (let i = 0; i < 2; i++) c.succeeded(10, true)
    assert.equal(c.limit, 6, 'after an overload, one step per answer')
    c.overloaded()
    assert.equal(c.limit, 3)
    for (let i = 0; i < 10; i++) c.succeeded(10, true)
    assert.equal(c.limit, 5, 'ramps up again, but stays below the level that failed (6)')
    for (let i = 0; i < 40; i++) c.succeeded(10, true)
    assert.equal(c.limit, 6, 'after 50 clean answers it probes the failed level again')
    c.overloaded()
    assert.equal(c.limit, 3)
  })

  test('runs at most `limit` functions at once', async () => {
    const c = createAdaptiveConcurrency(2)
    let active = 0
    let peak = 0
    const job = async (): Promise<void> => {
      active++
      peak = Math.max(peak, active)
      await new Promise((resolve) => setImmediate(resolve))
      active--
    }
    await Promise.all(Array.from({ length: 6 }, async () => await c.run(job)))
    assert.equal(peak, 1)
    c.succeeded(1, true)
    await Promise.all(Array.from({ length: 6 }, async () => await c.run(job)))
    assert.equal(peak, 2)
  })

  test('reports demand when other requests wait', async () => {
    const c = createAdaptiveConcurrency(4)
    const results = await Promise.all([c.run(async () => 1), c.run(async () => 2)])
    assert.equal(results[0].demand, true)
    assert.equal(results[1].demand, false)
  })
})
