// The physical ceiling of a JSON log reader in Node: read a file, split it into lines, JSON.parse each; nothing else.
import process from 'node:process'
import { lineChunks } from './lib/file-lines.mjs'

let lines = 0
let keys = 0
for await (const chunk of lineChunks(process.argv[2])) {
  for (const line of chunk) {
    // Touch the result so the parse cannot be optimised away.
    keys += Object.keys(JSON.parse(line)).length
    lines++
  }
}
process.stdout.write(JSON.stringify({ lines, keys }) + '\n')
