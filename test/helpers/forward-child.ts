// Child process for kill -9 tests: runs forward() on one file with a test sink that acks in batches after a delay
// and appends each acknowledged line id to a file first (as Matomo would have recorded it).
import { openSync, writeSync } from 'node:fs'
import { forward } from '../../src/pipeline.js'
import { silentLogger, testConfig } from './config.js'
import { createTestSink } from './test-sink.js'

const [file, stateDir, ackedPath, batchSize, concurrency, delayMs] = process.argv.slice(2) as [string, string, string, string, string, string]
const ackedFd = openSync(ackedPath, 'a')
const sink = createTestSink({
  mode: 'lanes',
  batchSize: Number(batchSize),
  concurrency: Number(concurrency),
  delayMs: Number(delayMs),
  onDeliver: (id) => { writeSync(ackedFd, id + '\n') }
})
// The configured batch size and concurrency are what bound the duplicates; the test sink mirrors them.
await forward({ config: testConfig('read', [file], stateDir, { 'batch-size': Number(batchSize), concurrency: Number(concurrency) }), logger: silentLogger(), sink })
writeSync(ackedFd, 'done\n')
