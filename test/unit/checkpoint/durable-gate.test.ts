// Durable gate: saturated while `limit` hits are handed out beyond the checkpoint on disk.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SourceProgress } from '../../../src/ack/source-progress.js'
import { createDurableGate } from '../../../src/checkpoint/durable-gate.js'
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

  test('with aheadHits, later hits wait in the gate, unsent, and never more than `limit` are handed out', async () => {
    const inner = innerSink()
    let flushes = 0
    inner.flush = () => { flushes++ }
    const gate = createDurableGate(inner, 3, { aheadHits: 2 })
    const progress = new SourceProgress('a.log', 0)
    const push = (i: number): void => { gate.push({ params: {}, progress, ticket: progress.hold(i * 10, i * 10 + 10, i + 1), lineNo: i + 1 }) }
    for (let i = 0; i < 4; i++) push(i)
    assert.equal(inner.hits.length, 3)
    assert.equal(flushes, 1, 'the sink is told to send what it holds when the limit is reached')
    assert.equal(gate.held, 3)
    assert.equal(gate.waiting, 1)
    assert.equal(gate.saturated, false, 'the reader may go on while fewer than aheadHits wait')
    push(4)
    assert.equal(gate.saturated, true)
    assert.equal(inner.hits.length, 3)
    let drained = false
    const waiting = gate.drained().then(() => { drained = true })
    gate.durable(progress, 20)
    await waiting
    assert.equal(drained, true)
    assert.deepEqual(inner.hits.map((h) => h.lineNo), [1, 2, 3, 4, 5], 'waiting hits go out in order as room is made')
    assert.equal(gate.held, 3)
    assert.equal(gate.waiting, 0)
  })

  test('end() hands out the waiting hits as durable hits make room, then ends the sink', async () => {
    const inner = innerSink()
    let ended = false
    inner.end = async () => { ended = true }
    const gate = createDurableGate(inner, 2, { aheadHits: 10 })
    const progress = new SourceProgress('a.log', 0)
    for (let i = 0; i < 5; i++) gate.push({ params: {}, progress, ticket: progress.hold(i * 10, i * 10 + 10, i + 1), lineNo: i + 1 })
    const ending = gate.end()
    assert.equal(inner.hits.length, 2)
    gate.durable(progress, 20)
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(inner.hits.length, 4)
    assert.equal(ended, false)
    gate.durable(progress, 40)
    await ending
    assert.equal(inner.hits.length, 5)
    assert.equal(ended, true)
  })
})
