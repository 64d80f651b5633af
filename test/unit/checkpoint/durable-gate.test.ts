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
})
