// SourceProgress: the committed offset only covers lines that are all done, whatever order acks arrive in.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SourceProgress, type Ticket } from '../../../src/ack/source-progress.js'

describe('SourceProgress', () => {
  test('lines done at once move the offset immediately', () => {
    const p = new SourceProgress('a.log', 10)
    assert.equal(p.committed, 10)
    p.lineDone(20)
    assert.equal(p.committed, 20)
  })

  test('a pending hit holds back later filtered lines until it is acknowledged', () => {
    const p = new SourceProgress('a.log')
    const t = p.hold(0, 10)
    p.lineDone(20)
    p.lineDone(30)
    assert.equal(p.committed, 0)
    p.ack(t)
    assert.equal(p.committed, 30)
  })

  test('out-of-order acknowledgements move the offset only to the end of the contiguous done prefix', () => {
    const p = new SourceProgress('a.log')
    const a = p.hold(0, 10)
    const b = p.hold(10, 20)
    const c = p.hold(20, 30)
    p.ack(c)
    assert.equal(p.committed, 0)
    p.ack(a)
    assert.equal(p.committed, 10)
    assert.equal(p.outstanding, 1)
    p.ack(b)
    assert.equal(p.committed, 30)
    assert.equal(p.outstanding, 0)
  })

  test('a batch that never succeeds holds the offset back forever', () => {
    const p = new SourceProgress('a.log')
    p.lineDone(5)
    p.hold(5, 15)
    const later = p.hold(15, 25)
    p.ack(later)
    p.lineDone(40)
    assert.equal(p.committed, 5)
  })

  test('property: committed is always the end of the longest prefix of done lines', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ hit: fc.boolean(), len: fc.integer({ min: 1, max: 100 }) }), { minLength: 1, maxLength: 60 }),
      fc.infiniteStream(fc.nat()),
      (lines, picks) => {
        const p = new SourceProgress('x')
        const done: boolean[] = []
        const ends: number[] = []
        const tickets: Array<{ ticket: Ticket, index: number }> = []
        let offset = 0
        lines.forEach((line, index) => {
          const start = offset
          offset += line.len
          ends.push(offset)
          if (line.hit) {
            tickets.push({ ticket: p.hold(start, offset), index })
            done.push(false)
          } else {
            p.lineDone(offset)
            done.push(true)
          }
        })
        const expected = (): number => {
          let i = 0
          while (i < done.length && done[i] === true) i++
          return i === 0 ? 0 : ends[i - 1] ?? 0
        }
        assert.equal(p.committed, expected())
        const it = picks[Symbol.iterator]()
        while (tickets.length > 0) {
          const k = (it.next().value as number) % tickets.length
          const [{ ticket, index }] = tickets.splice(k, 1) as [{ ticket: Ticket, index: number }]
          p.ack(ticket)
          done[index] = true
          assert.equal(p.committed, expected())
        }
        assert.equal(p.committed, offset)
      }
    ), { numRuns: 300 })
  })

  test('a long stream of acknowledged hits does not keep every ticket', () => {
    const p = new SourceProgress('x')
    const first = p.hold(0, 1)
    const rest: Ticket[] = []
    for (let i = 1; i < 20_000; i++) rest.push(p.hold(i, i + 1))
    for (const t of rest) p.ack(t)
    assert.equal(p.committed, 0)
    p.ack(first)
    assert.equal(p.committed, 20_000)
    assert.equal(p.outstanding, 0)
  })
})
