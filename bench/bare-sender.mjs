// A reference sender with nothing but the essentials: read, split, JSON.parse, a minimal bulk item, POST 200 per body, 2 in flight.
// No mapping rules, no checkpoints, no retries, no accounting: what any Node sender costs at least.
// usage: node bare-sender.mjs FILE TRACKING_URL   (token in MATOMO_FORWARD_ACCESS_TOKEN)
import { Buffer } from 'node:buffer'
import { Agent, request } from 'node:http'
import process from 'node:process'
import { lineChunks } from './lib/file-lines.mjs'

const [path, trackingUrl] = process.argv.slice(2)
const token = process.env.MATOMO_FORWARD_ACCESS_TOKEN ?? ''
const agent = new Agent({ keepAlive: true, maxSockets: 2 })
const BATCH = 200
const IN_FLIGHT = 2

let items = []
let lines = 0
const inFlight = new Set()

function post (batch) {
  const body = '{"requests":[' + batch.join(',') + '],"token_auth":' + JSON.stringify(token) + '}'
  return new Promise((resolve, reject) => {
    const req = request(trackingUrl, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume()
      res.on('end', () => {
        if (res.statusCode === 200) resolve()
        else reject(new Error(`HTTP ${res.statusCode}`))
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function send (batch) {
  const p = post(batch).finally(() => inFlight.delete(p))
  inFlight.add(p)
  if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight)
}

function item (line) {
  const r = JSON.parse(line)
  return JSON.stringify({ idsite: 1, rec: 1, url: 'https://' + r.host + r.path, ua: r.user_agent, cip: r.ip, token_auth: token })
}

for await (const chunk of lineChunks(path)) {
  for (const line of chunk) {
    items.push(item(line))
    lines++
    if (items.length === BATCH) {
      await send(items)
      items = []
    }
  }
}
if (items.length > 0) await send(items)
await Promise.all(inFlight)
agent.destroy()
process.stdout.write(JSON.stringify({ lines }) + '\n')
