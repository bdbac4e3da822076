// Swarmtube Service Worker: answers <video> range requests for
// /static/engine/stream/<infohash>/<name> from the wasm engine running in
// the requesting page (see engine.js), so any browser-playable file plays
// without remuxing while its pieces come from peers.

const STREAM_PATH = new URL('stream/', self.location).pathname;
const CHUNK = 1 << 20;

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(STREAM_PATH)) return;
  event.respondWith(serve(event, url));
});

async function findClient(event) {
  for (const id of [event.clientId, event.resultingClientId]) {
    if (id) {
      const c = await self.clients.get(id);
      if (c) return c;
    }
  }
  const all = await self.clients.matchAll({ type: 'window' });
  return all[0];
}

// ask sends one read to the page and waits for its reply.
function ask(client, msg) {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = (ev) => { ch.port1.close(); resolve(ev.data); };
    client.postMessage(msg, [ch.port2]);
  });
}

function parseRange(h) {
  const m = /^bytes=(\d*)-(\d*)$/.exec((h || '').trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') return { suffix: Number(m[2]) };
  return { start: Number(m[1]), end: m[2] === '' ? undefined : Number(m[2]) };
}

async function serve(event, url) {
  const infoHash = url.pathname.slice(STREAM_PATH.length).split('/')[0];
  const client = await findClient(event);
  if (!client) return new Response('no page runs the engine', { status: 503 });
  const streamId = `${event.clientId || 'c'}-${Math.random().toString(36).slice(2)}`;
  const range = parseRange(event.request.headers.get('range'));
  // The first read also tells the file length; suffix ranges need it first.
  let start = range && range.start !== undefined ? range.start : 0;
  let first = await ask(client, { type: 'swarmtube-read', infoHash, streamId, offset: start, length: CHUNK });
  if (first.error) return new Response(first.error, { status: 404 });
  const length = first.length;
  if (range && range.suffix !== undefined) {
    start = Math.max(0, length - range.suffix);
    first = await ask(client, { type: 'swarmtube-read', infoHash, streamId, offset: start, length: CHUNK });
    if (first.error) return new Response(first.error, { status: 500 });
  }
  if (start >= length) {
    client.postMessage({ type: 'swarmtube-close', infoHash, streamId });
    return new Response(null, { status: 416, headers: { 'Content-Range': `bytes */${length}` } });
  }
  const end = Math.min(range && range.end !== undefined ? range.end : length - 1, length - 1);
  let pos = start;
  let pending = first.data;
  const done = () => client.postMessage({ type: 'swarmtube-close', infoHash, streamId });
  const body = new ReadableStream({
    async pull(ctrl) {
      let data = pending;
      pending = null;
      if (!data) {
        const r = await ask(client, { type: 'swarmtube-read', infoHash, streamId, offset: pos, length: Math.min(CHUNK, end - pos + 1) });
        if (r.error) { ctrl.error(new Error(r.error)); done(); return; }
        data = r.data;
      }
      let chunk = new Uint8Array(data);
      if (chunk.byteLength === 0) { ctrl.close(); done(); return; }
      chunk = chunk.subarray(0, end - pos + 1);
      ctrl.enqueue(chunk);
      pos += chunk.byteLength;
      if (pos > end) { ctrl.close(); done(); }
    },
    cancel() { done(); },
  }, { highWaterMark: 8 }); // read ahead like an HTTP download: the player judges "can play through" by the flow
  const headers = {
    'Content-Type': first.mime,
    'Accept-Ranges': 'bytes',
    'Content-Length': String(end - start + 1),
    'Cache-Control': 'no-store',
  };
  if (!range) return new Response(body, { status: 200, headers });
  headers['Content-Range'] = `bytes ${start}-${end}/${length}`;
  return new Response(body, { status: 206, headers });
}
