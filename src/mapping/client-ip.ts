// Chooses the client IP of an entry from X-Forwarded-For and the remote address, honouring trusted proxies.
import { BlockList, isIP } from 'node:net'

export type ClientIpPicker = (forwardedFor: string | undefined, remoteAddress: string | undefined) => string | undefined

/** Strips ports, brackets and the IPv4-mapped IPv6 prefix: "[::ffff:1.2.3.4]:80" → "1.2.3.4". */
export function normaliseAddress (value: string): string {
  let address = value.trim()
  if (address.startsWith('[')) {
    const end = address.indexOf(']')
    if (end !== -1) address = address.slice(1, end)
  } else if (address.indexOf(':') !== -1 && address.indexOf(':') === address.lastIndexOf(':')) {
    address = address.slice(0, address.indexOf(':'))
  }
  if (address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4) address = address.slice(7)
  return address
}

/**
 * Without trusted proxies: the first address of X-Forwarded-For (the originating client), else the remote address.
 * With trusted proxies: X-Forwarded-For is walked from the nearest hop back, and the first address that is not a
 * trusted proxy is the client (addresses further left could be forged by that client).
 */
export function createClientIpPicker (trustedProxies: readonly string[]): ClientIpPicker {
  if (trustedProxies.length === 0) {
    return (forwardedFor, remoteAddress) => {
      if (forwardedFor !== undefined) {
        const comma = forwardedFor.indexOf(',')
        const first = normaliseAddress(comma === -1 ? forwardedFor : forwardedFor.slice(0, comma))
        if (first !== '') return first
      }
      return remoteAddress === undefined ? undefined : normaliseAddress(remoteAddress)
    }
  }
  const trusted = createBlockList(trustedProxies)
  const isTrusted = (address: string): boolean => {
    const family = isIP(address)
    return family !== 0 && trusted.check(address, family === 4 ? 'ipv4' : 'ipv6')
  }
  return (forwardedFor, remoteAddress) => {
    const remote = remoteAddress === undefined ? undefined : normaliseAddress(remoteAddress)
    // X-Forwarded-For is only believed when it was handed to us by a trusted proxy (or we do not know the peer).
    if (forwardedFor === undefined || (remote !== undefined && !isTrusted(remote))) return remote
    const hops = forwardedFor.split(',')
    for (let i = hops.length - 1; i >= 0; i--) {
      const address = normaliseAddress(hops[i] ?? '')
      if (address !== '' && !isTrusted(address)) return address
    }
    const first = normaliseAddress(hops[0] ?? '')
    return first === '' ? remote : first
  }
}

/** Throws on an invalid address or CIDR (config validation reports it first). */
export function createBlockList (entries: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/')
    const family = isIP(address)
    if (family === 0) throw new TypeError(`"${entry}" is not an IP address or CIDR range`)
    const type = family === 4 ? 'ipv4' : 'ipv6'
    if (prefix === undefined) {
      list.addAddress(address, type)
    } else {
      const bits = Number(prefix)
      if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) throw new TypeError(`"${entry}" has an invalid prefix length`)
      list.addSubnet(address, bits, type)
    }
  }
  return list
}
