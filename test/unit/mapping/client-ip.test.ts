// Client IP: X-Forwarded-For honouring --trusted-proxy (first untrusted address from the nearest hop), IPv6, validation.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { checkProxyEntry, createBlockList, createClientIpPicker, normaliseAddress } from '../../../src/mapping/client-ip.js'

describe('normaliseAddress', () => {
  for (const [input, expected] of [
    ['1.2.3.4', '1.2.3.4'],
    [' 1.2.3.4:8080 ', '1.2.3.4'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['2001:db8::1', '2001:db8::1'],
    ['::ffff:10.0.0.2', '10.0.0.2'],
    ['[::FFFF:10.0.0.2]', '10.0.0.2']
  ]) {
    test(`${input} → ${expected}`, () => assert.equal(normaliseAddress(input as string), expected))
  }
})

describe('createClientIpPicker without trusted proxies', () => {
  const pick = createClientIpPicker([])
  test('first address of X-Forwarded-For', () => assert.equal(pick('203.0.113.9, 10.0.0.2', '10.0.0.1'), '203.0.113.9'))
  test('remote address without X-Forwarded-For', () => assert.equal(pick(undefined, '::ffff:198.51.100.1'), '198.51.100.1'))
  test('entries that are not addresses are skipped', () => assert.equal(pick('unknown, 203.0.113.9', '10.0.0.1'), '203.0.113.9'))
  test('no usable address: the remote address', () => assert.equal(pick('unknown', '10.0.0.1'), '10.0.0.1'))
  test('a remote that is not an address is no client IP', () => assert.equal(pick(undefined, 'unix:/run/app.sock'), undefined))
  test('IPv6 in X-Forwarded-For', () => assert.equal(pick('[2001:db8::9]:1234, 10.0.0.2', undefined), '2001:db8::9'))
})

describe('createClientIpPicker with trusted proxies', () => {
  const pick = createClientIpPicker(['10.0.0.0/8', '2001:db8:ffff::/48'])
  test('the first untrusted address from the nearest hop wins', () => {
    assert.equal(pick('6.6.6.6, 203.0.113.9, 10.0.0.5', '10.0.0.1'), '203.0.113.9')
  })
  test('a client that is not behind a trusted proxy: its own address, X-Forwarded-For ignored', () => {
    assert.equal(pick('6.6.6.6', '198.51.100.7'), '198.51.100.7')
  })
  test('unknown peer: X-Forwarded-For is walked', () => assert.equal(pick('203.0.113.9, 10.0.0.5', undefined), '203.0.113.9'))
  test('every hop trusted: the leftmost', () => assert.equal(pick('10.0.0.9, 10.0.0.5', '10.0.0.1'), '10.0.0.9'))
  test('IPv6 proxies', () => assert.equal(pick('2001:db8::1, 2001:db8:ffff::2', '2001:db8:ffff::1'), '2001:db8::1'))
  test('IPv4-mapped IPv6 peer matches an IPv4 range', () => assert.equal(pick('203.0.113.9', '::ffff:10.1.2.3'), '203.0.113.9'))
  test('a non-address entry ends the walk at the nearest trusted hop', () => assert.equal(pick('6.6.6.6, unknown, 10.0.0.5', '10.0.0.1'), '10.0.0.5'))
  test('no X-Forwarded-For: the remote address', () => assert.equal(pick(undefined, '10.0.0.1'), '10.0.0.1'))
})

describe('checkProxyEntry', () => {
  for (const ok of ['10.0.0.1', '10.0.0.0/8', '0.0.0.0/0', '2001:db8::/32', '::1', '::/0']) {
    test(`accepts ${ok}`, () => assert.equal(checkProxyEntry(ok), undefined))
  }
  for (const bad of ['10.0.0.0/', '10.0.0.0/33', '10.0.0.0/8x', '10.0.0.0/8/9', 'localhost', '2001:db8::/129', '', '10.0.0.0/-1', '300.1.1.1']) {
    test(`rejects "${bad}"`, () => assert.equal(typeof checkProxyEntry(bad), 'string'))
  }
  test('createBlockList throws on what checkProxyEntry rejects', () => {
    assert.throws(() => createBlockList(['10.0.0.0/']), /not an IP address or CIDR range/)
    assert.equal(createBlockList(['10.0.0.0/8']).check('10.1.1.1', 'ipv4'), true)
  })
})
