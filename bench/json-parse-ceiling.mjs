// The physical ceiling of a JSON log reader in Node: read a file, split it into lines, JSON.parse each; nothing else.
import { createReadStream } from 'node:fs'
import { Buffer } from 'node:buffer'
import process from 'node:process'

const path = process.argv[2]
let lines = 0
let keys = 0
let rest = Buffer.alloc(0)
for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) {
  const buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk])
  let start = 0
  let nl
  while ((nl = buf.indexOf(10, start)) !== -1) {
    if (nl > start) {
      // Touch the result so the parse cannot be optimised away.
      keys += Object.keys(JSON.parse(buf.toString('utf8', start, nl))).length
      lines++
    }
    start = nl + 1
  }
  rest = buf.subarray(start)
}
if (rest.length > 0) {
  keys += Object.keys(JSON.parse(rest.toString('utf8'))).length
  lines++
}
process.stdout.write(JSON.stringify({ lines, keys }) + '\n')
