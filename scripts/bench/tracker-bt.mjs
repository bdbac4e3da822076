// The npm bittorrent-tracker server (pinned in scripts/node), WebSocket only,
// for scripts/bench/tracker.sh. usage: node tracker-bt.mjs <node_modules> <port>
import { pathToFileURL } from 'node:url'
import path from 'node:path'

const [nm, port] = process.argv.slice(2)
const { default: Server } = await import(pathToFileURL(path.join(nm, 'bittorrent-tracker', 'server.js')).href)
const server = new Server({ udp: false, http: false, ws: true, stats: false })
server.on('error', (err) => { console.error(err); process.exit(1) })
server.on('warning', () => {})
server.listen(Number(port), '127.0.0.1', () => console.error('bittorrent-tracker listening on', port))
