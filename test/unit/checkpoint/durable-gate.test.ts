// Durable gate: saturated while `limit` hits are handed out beyond the checkpoint on disk.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SourceProgress } from '../../../src/ack/source-progress.js'
import { createDurableGate, createSendBudget } from '../../../src/checkpoint/durable-gate.js'
import type { Hit, HitSink } from '../../../src/sink/sink.js'

function innerSink (): HitSink & { hits: Hit[] } {
  const hits: Hit[] = []
  return { hits, push: (hit) => { hits.push(hit) }, saturated: false, drained: async () => undefined, end: async () => undefined }
}

describe('createDurableGate', () => {
  test('holds the reader back until the checkpoint on disk covers the hits', async () => {
    const inner = innerSink()
    const gate = createDurableGate(inner, 3)
    const progress = new SourceProgress('a.log', 0)
    for (let i = 0; i < 3; i++) gate.push({ params: {}, progress, ticket: progress.hold(i * 10, i * 10 + 10, i + 1), lineNo: i + 1 })
    assert.equal(gate.saturated, true)
    assert.equal(inner.hits.length, 3)
    let drained = false
    const waiting = gate.drained().then(() => { drained = true })
    gate.durable(progress, 10)
    await waiting
    assert.equal(drained, true)
    assert.equal(gate.held, 2)
    assert.equal(gate.saturated, false)
    gate.durable(progress, 30)
    assert.equal(gate.held, 0)
  })

  test('ignores sources it holds nothing for', () => {
    const gate = createDurableGate(innerSink(), 1)
    gate.durable(new SourceProgress('b', 0), 100)
    assert.equal(gate.held, 0)
  })
})

describe('createSendBudget', () => {
  test('counts sent hits until the checkpoint on disk covers them, whatever order they were sent in', () => {
    const budget = createSendBudget(4)
    const released: number[] = []
    budget.onRelease = () => { released.push(budget.held) }
    const progress = new SourceProgress('a.log', 0)
    const hits = [0, 1, 2, 3].map((i) => ({ params: {}, progress, ticket: progress.hold(i * 10, i * 10 + 10, i + 1), lineNo: i + 1 }))
    budget.take([hits[2]!, hits[3]!])
    budget.take([hits[0]!])
    assert.equal(budget.room(), 1)
    budget.durable(progress, 10)
    assert.deepEqual(released, [2], 'only the hit ending at 10 is covered')
    budget.durable(progress, 15)
    assert.deepEqual(released, [2], 'nothing newly covered: no release')
    budget.durable(progress, 40)
    assert.equal(budget.held, 0)
    assert.equal(budget.room(), 4)
  })

  test('a sink that schedules its own requests gets the budget, and the reader is not held back by pushes', () => {
    let given: unknown
    const inner = { ...innerSink(), useBudget: (b: unknown) => { given = b } }
    const gate = createDurableGate(inner, 2)
    assert.equal(gate.countsPushes, false)
    assert.notEqual(given, undefined)
    const progress = new SourceProgress('a.log', 0)
    for (let i = 0; i < 5; i++) gate.push({ params: {}, progress, ticket: progress.hold(i * 10, i * 10 + 10, i + 1), lineNo: i + 1 })
    assert.equal(gate.saturated, false)
    assert.equal(inner.hits.length, 5)
  })
})
