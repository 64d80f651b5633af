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
 * Entries that are not IP addresses ("unknown", obfuscated RFC 7239 names) are never sent as cip: without trusted
 * proxies they are skipped; with trusted proxies the walk stops there (what lies further left cannot be trusted)
 * and the nearest trusted hop is used. A remote address that is not an IP address (a Unix socket) counts as unknown.
 */
export function createClientIpPicker (trustedProxies: readonly string[]): ClientIpPicker {
  if (trustedProxies.length === 0) {
    return (forwardedFor, remoteAddress) => {
      if (forwardedFor !== undefined) {
        const comma = forwardedFor.indexOf(',')
        const first = normaliseAddress(comma === -1 ? forwardedFor : forwardedFor.slice(0, comma))
        if (isIP(first) !== 0) return first
        if (comma !== -1) {
          for (const hop of forwardedFor.split(',')) {
            const address = normaliseAddress(hop)
            if (isIP(address) !== 0) return address
          }
        }
      }
      return ipOrUndefined(remoteAddress)
    }
  }
  const trusted = createBlockList(trustedProxies)
  const isTrusted = (address: string): boolean => {
    const family = isIP(address)
    return family !== 0 && trusted.check(address, family === 4 ? 'ipv4' : 'ipv6')
  }
  return (forwardedFor, remoteAddress) => {
    const remote = ipOrUndefined(remoteAddress)
    // X-Forwarded-For is only believed when it was handed to us by a trusted proxy (or we do not know the peer).
    if (forwardedFor === undefined || (remote !== undefined && !isTrusted(remote))) return remote
    const hops = forwardedFor.split(',')
    let nearest = remote
    for (let i = hops.length - 1; i >= 0; i--) {
      const address = normaliseAddress(hops[i] ?? '')
      if (address === '') continue
      if (isIP(address) === 0) return nearest
      if (!isTrusted(address)) return address
      nearest = address
    }
    // Every hop is a trusted proxy: the leftmost one is the closest thing to a client.
    return nearest
  }
}

/**
 * Whether an entry's forwarding headers (X-Forwarded-Host, X-Forwarded-Proto) are believed, by the rule of
 * X-Forwarded-For: without --trusted-proxy always; with it, only when the remote address is a trusted proxy, or
 * unknown (not an IP address). Compiled once per run.
 */
export function createForwardingTrust (trustedProxies: readonly string[]): (remoteAddress: string | undefined) => boolean {
  if (trustedProxies.length === 0) return () => true
  const trusted = createBlockList(trustedProxies)
  return (remoteAddress) => {
    const remote = ipOrUndefined(remoteAddress)
    return remote === undefined || trusted.check(remote, isIP(remote) === 4 ? 'ipv4' : 'ipv6')
  }
}

function ipOrUndefined (value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const address = normaliseAddress(value)
  return isIP(address) === 0 ? undefined : address
}

const PREFIX_LENGTH = /^\d{1,3}$/

/** Why an --trusted-proxy entry is not an address or CIDR range, or undefined when it is one. */
export function checkProxyEntry (entry: string): string | undefined {
  const slash = entry.indexOf('/')
  const address = slash === -1 ? entry : entry.slice(0, slash)
  const family = isIP(address)
  if (family === 0) return `"${address}" is not an IPv4 or IPv6 address`
  if (slash === -1) return undefined
  const prefix = entry.slice(slash + 1)
  const max = family === 4 ? 32 : 128
  if (!PREFIX_LENGTH.test(prefix) || Number(prefix) > max) return `the prefix length must be a whole number from 0 to ${max}`
  return undefined
}

/** Throws on an invalid address or CIDR (config validation reports it first, with checkProxyEntry). */
export function createBlockList (entries: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of entries) {
    const problem = checkProxyEntry(entry)
    if (problem !== undefined) throw new TypeError(`"${entry}" is not an IP address or CIDR range: ${problem}`)
    const slash = entry.indexOf('/')
    const address = slash === -1 ? entry : entry.slice(0, slash)
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6'
    if (slash === -1) list.addAddress(address, type)
    else list.addSubnet(address, Number(entry.slice(slash + 1)), type)
  }
  return list
}
