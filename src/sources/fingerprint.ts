// File identity for checkpoints: device + inode + a checksum of the first bytes (decompressed for gzip).
import { createHash } from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import { constants as zlibConstants, gunzipSync } from 'node:zlib'

/** How many leading (decompressed) bytes the checksum covers once the file is that long. */
export const FINGERPRINT_BYTES = 1024

/** Compressed bytes read to find FINGERPRINT_BYTES decompressed bytes: deflate never expands 1 KiB past 4 KiB. */
const GZIP_HEAD_BYTES = 4096

/**
 * Which file a checkpoint belongs to. dev+ino alone is not enough: a deleted file's inode is reused by the
 * next file created, and a checkpoint must not make us skip the new file's first bytes. The head checksum
 * tells them apart. A file shorter than FINGERPRINT_BYTES has a shorter head; it is extended as the file grows
 * (a stored head of k bytes matches any file whose first k bytes have that checksum).
 */
export interface FileIdentity {
  /** Device and inode as decimal strings (64-bit values do not fit a JSON number). */
  readonly dev: string
  readonly ino: string
  /** How many head bytes the checksum covers: FINGERPRINT_BYTES, or fewer while the file is shorter. */
  readonly headBytes: number
  /** sha256 of the first headBytes bytes, hex (truncated to 128 bits). */
  readonly headHash: string
}

export interface FileStatIds {
  readonly dev: bigint | number
  readonly ino: bigint | number
}

export function hashHead (head: Uint8Array): string {
  return createHash('sha256').update(head).digest('hex').slice(0, 32)
}

export function identityOf (stat: FileStatIds, head: Buffer): FileIdentity {
  const bytes = Math.min(head.length, FINGERPRINT_BYTES)
  return { dev: String(stat.dev), ino: String(stat.ino), headBytes: bytes, headHash: hashHead(head.subarray(0, bytes)) }
}

/** True when `head` (a file's first bytes) starts with the bytes `identity` was fingerprinted on. */
export function headMatches (identity: FileIdentity, head: Buffer): boolean {
  if (head.length < identity.headBytes) return false
  return hashHead(head.subarray(0, identity.headBytes)) === identity.headHash
}

export function isSameInode (a: FileStatIds | FileIdentity, b: FileStatIds | FileIdentity): boolean {
  return String(a.dev) === String(b.dev) && String(a.ino) === String(b.ino)
}

/** True when the fingerprint covers all the bytes it ever will: only then is the checksum alone trusted. */
export function isFullFingerprint (identity: FileIdentity): boolean {
  return identity.headBytes >= FINGERPRINT_BYTES
}

export function identityKey (identity: FileIdentity): string {
  return `${identity.dev}:${identity.ino}:${identity.headBytes}:${identity.headHash}`
}

export interface FileHead {
  /** The first FINGERPRINT_BYTES of the file's content (decompressed when gzip), or fewer if it is shorter. */
  head: Buffer
  /** Whether the file starts with the gzip magic number. */
  gzip: boolean
}

/** Reads a file's head through its handle (no second open by path: the path may have been rotated meanwhile). */
export async function readHead (handle: FileHandle): Promise<FileHead> {
  const raw = Buffer.alloc(GZIP_HEAD_BYTES)
  const { bytesRead } = await handle.read(raw, 0, raw.length, 0)
  const bytes = raw.subarray(0, bytesRead)
  if (!isGzipHead(bytes)) return { head: Buffer.from(bytes.subarray(0, FINGERPRINT_BYTES)), gzip: false }
  try {
    // Z_SYNC_FLUSH: decompress what this prefix holds without demanding the end of the stream.
    const out = gunzipSync(bytes, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 8 * 1024 * 1024 })
    return { head: Buffer.from(out.subarray(0, FINGERPRINT_BYTES)), gzip: true }
  } catch {
    // A damaged gzip file: fingerprint the raw bytes; reading it reports the damage properly.
    return { head: Buffer.from(bytes.subarray(0, FINGERPRINT_BYTES)), gzip: true }
  }
}

/** True when the bytes start with the gzip magic number. */
export function isGzipHead (head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b
}
