// Interop check for the pod's WebSocket tracker, driven by
// server/tracker/interop_test.go: two real bittorrent-tracker clients (the
// npm package pinned in scripts/node) announce one info hash, and the
// tracker must relay an offer from one to the other and the answer back.
//
// Node has no WebRTC here, so 'webrtc-polyfill' is replaced by a fake whose
// RTCPeerConnection yields dummy SDP: everything on the tracker socket is
// still produced and consumed by the real client code.
//
// usage: node interop.mjs <ws announce url> <bittorrent-tracker dir>
// prints one JSON line per observed event, exits 0 when both peers saw
// each other, 1 on timeout or error.
import { pathToFileURL } from 'node:url'
import { register } from 'node:module'
import path from 'node:path'

const [url, btDir] = process.argv.slice(2)
// simple-peer imports RTCPeerConnection from 'webrtc-polyfill': resolve that
// to fake-wrtc.mjs for every module loaded from here on.
register('./wrtc-hooks.mjs', import.meta.url)
const { default: Client } = await import(pathToFileURL(path.join(btDir, 'client.js')).href)

const infoHash = 'aaf0c1d2e3f405162738495a6b7c8d9eafb0c1d2'
const idA = '2d5757303330302d' + '0a'.repeat(12)
const idB = '2d5757303330302d' + 'e9'.repeat(12)
const log = (o) => console.log(JSON.stringify(o))
const mk = (peerId, left) => {
  const c = new Client({ infoHash, peerId, announce: [url], port: 6881, getAnnounceOpts: () => ({ left, uploaded: 0, downloaded: 0 }) })
  c.on('error', (err) => { log({ error: String(err) }); process.exit(1) })
  c.on('warning', (err) => log({ peerId, warning: String(err) }))
  return c
}

const seen = new Set()
const done = (what) => {
  seen.add(what)
  if (seen.has('A got offer') && seen.has('B got answer') && seen.has('B scrape')) {
    log({ ok: true })
    a.destroy(); b.destroy()
    setTimeout(() => process.exit(0), 100)
  }
}
setTimeout(() => { log({ timeout: [...seen] }); process.exit(1) }, 15000).unref()

const a = mk(idA, 0)
const b = mk(idB, 1000)
// A is alone: its offers go nowhere. When B announces with 5 offers, the
// tracker relays one to A, A's client answers through the tracker, and B's
// client matches the answer to its offer id.
a.on('peer', (peer) => { log({ event: 'A got offer', from: peer.id }); if (peer.id === idB) done('A got offer') })
b.on('peer', (peer) => {
  log({ event: 'B got answer', from: peer.id })
  if (peer.id === idA) {
    done('B got answer')
    b.scrape()
  }
})
// Both clients share one WebSocket (the client's socket pool), so each sees
// every announce reply for the info hash.
a.once('update', (d) => {
  log({ event: 'A update', complete: d.complete, incomplete: d.incomplete })
  b.start()
})
b.on('scrape', (d) => {
  log({ event: 'B scrape', infoHash: d.infoHash, complete: d.complete, incomplete: d.incomplete })
  if (d.infoHash === infoHash && d.complete === 1 && d.incomplete === 1) done('B scrape')
})
a.start()
