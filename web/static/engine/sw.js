// Swarmtube Service Worker: answers <video> range requests for
// /static/engine/stream/<infohash>/<name> from the wasm engine running in
// the requesting page (see engine.js), so any browser-playable file plays
// without remuxing while its pieces come from peers.
//
// On a first visit the <video>'s first request reaches the network before
// this worker controls the page (engine.js playEarly, the pod's
// webseed.StartHandler): this worker answers its later requests.
//
// Start-up: a stream URL may carry ?webseed=<same-origin URL of the file>
// (engine.js's playEarly sets it before the wasm has loaded). While the page
// has not opened the torrent yet, the first EARLY_BUDGET bytes of each page's
// view of that torrent are read from that web seed with plain range
// requests, so playback starts like a plain HTTP <video>; every later chunk
// comes from the engine (which waits for the torrent to open). Reads are
// 256 KiB range requests, each read whole (passing the web seed's body on
// as it arrived made Chromium fail some starts with a format error, not
// understood yet). The page fetches those first bytes itself as soon as it
// knows the video, while this worker registers and starts (engine.js
// prefetchEarly): each early read asks the page first and reads the web
// seed only for what the page does not hold, so on a first visit the
// worker's start and the first request overlap as they would for a plain
// <video>. Each read of its own is also posted to the page, which hands it to
// its engine on open: the engine counts it in its stats and keeps the whole
// pieces instead of fetching them again (from the web seed or the pod's
// seeder). The budget is at most 1 MiB: every byte of it is pod upload per
// viewer (8 viewers: 0.19 of 8 copies vs 0.255 with 2 MiB). The page
// decides how much of it to use: one second of media, then a piece at a
// time while its player needs one before the engine runs (engine.js
// earlyBudget, earlyFromPrefetch); it answers {end: true} where its early
// bytes end, and the engine serves the rest.

// When this worker's start-up steps happened (epoch ms, performance.timeOrigin
// + now), for wasmbench's start-up timeline (MSG.MARKS).
const startMarks = { swScript: performance.timeOrigin + performance.now() };
const mark = (name) => { startMarks[name] ??= performance.timeOrigin + performance.now(); };

// The pod serves this file with messages.js in place of this line (web's
// bundleWorker): on a first visit an imported script is one more request
// before the worker can install.
importScripts('messages.js');
mark('swImported');
const MSG = self.SwarmtubeMessages; // message types shared with engine.js

const STREAM_PATH = new URL('stream/', self.location).pathname;
const CHUNK = 1 << 20;
const EARLY_CHUNK = 256 << 10;
const EARLY_BUDGET = 1 << 20;
const earlySpent = new Map(); // clientId + infoHash → web seed bytes served before the engine was ready
// clientId + infoHash of torrents pages have opened (engine.js tells us), so
// the early reads need no round trip to a page whose main thread is busy
// starting the wasm. Also kept in Cache Storage: the browser stops an idle
// worker whenever it likes, and a restarted one that forgot would read up to
// EARLY_BUDGET more from the web seed for a page playing long since.
const opened = new Set();
const OPENED_CACHE = 'swarmtube-opened-v1';
const openedURL = (key) => new URL(`opened/${encodeURIComponent(key)}`, self.registration.scope).href;

async function openedStore() {
  try {
    return await caches.open(OPENED_CACHE);
  } catch (e) {
    return null; // no Cache Storage (e.g. private mode): memory only
  }
}

function markOpened(key) {
  opened.add(key);
  forgetGone();
  openedStore().then((c) => c?.put(openedURL(key), new Response(''))).catch(() => {});
}

function unmarkOpened(key) {
  opened.delete(key);
  checked.delete(key);
  openedStore().then((c) => c?.delete(openedURL(key))).catch(() => {});
}

// wasOpened reports whether the page of key has opened its torrent, as this
// worker or an earlier run of it was told. Cache Storage is asked once per
// key and run: a later open reaches this run as a message (markOpened), so
// the early reads that start a video wait on no storage round trip.
const checked = new Set();
async function wasOpened(key) {
  if (opened.has(key)) return true;
  if (checked.has(key)) return false;
  const c = await openedStore();
  if (c && (await c.match(openedURL(key)).catch(() => null))) {
    opened.add(key);
    return true;
  }
  if (!opened.has(key)) checked.add(key);
  return opened.has(key);
}

// forgetGone drops the entries of pages that no longer exist (closed, or
// navigated away without closing their torrents), in memory and in Cache
// Storage; run whenever an entry is added, so both stay as small as the
// open pages.
let pruning = null;
function forgetGone() {
  pruning ??= (async () => {
    const c = await openedStore();
    const stored = c ? (await c.keys()).map((r) => decodeURIComponent(r.url.slice(r.url.lastIndexOf('/') + 1))) : [];
    const keys = [...earlySpent.keys(), ...opened, ...stored];
    const ids = new Set(keys.map((key) => key.slice(0, key.indexOf(' '))));
    for (const id of ids) {
      if (await self.clients.get(id)) continue;
      for (const key of keys) {
        if (!key.startsWith(`${id} `)) continue;
        earlySpent.delete(key);
        unmarkOpened(key);
      }
    }
  })().catch(() => {}).finally(() => { pruning = null; });
  return pruning;
}

self.addEventListener('message', (event) => {
  const msg = event.data;
  const id = event.source && event.source.id;
  if (!id || !msg || typeof msg !== 'object') return;
  if (msg.type === MSG.MARKS) {
    event.ports[0]?.postMessage(startMarks);
    return;
  }
  if (msg.type === MSG.CLAIM) {
    event.waitUntil(self.clients.claim());
    return;
  }
  const key = `${id} ${msg.infoHash}`;
  if (msg.type === MSG.OPENED && !opened.has(key)) markOpened(key);
  if (msg.type === MSG.CLOSED) {
    unmarkOpened(key);
    earlySpent.delete(key);
  }
});

// install and activate wait on nothing that can be put off: a page's
// <video> can use the stream only once this worker controls the page.
self.addEventListener('install', (event) => {
  mark('swInstall');
  // Only the stream needs this worker: every other request of the pod's
  // pages (navigations included, so a return visit's page does not wait
  // for the worker to start) goes to the network without starting it
  // (Service Worker static routing, InstallEvent.addRoutes, Chromium 123+;
  // elsewhere the fetch handler below passes them by).
  try {
    const routed = event.addRoutes?.({ condition: { not: { urlPattern: new URLPattern({ pathname: `${STREAM_PATH}*` }) } }, source: 'network' });
    if (routed) event.waitUntil(routed.catch(() => {}));
  } catch (e) {
    // no URLPattern, or no "not" condition: the fetch handler filters
  }
  self.skipWaiting();
});
self.addEventListener('activate', (event) => {
  mark('swActivate');
  event.waitUntil(self.clients.claim().then(() => mark('swClaimed')));
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(STREAM_PATH)) return;
  // The page's own fetch of a video's start on a first visit, made through
  // the HTTP cache for its <video> to read (engine.js prefetchEarly), when
  // this worker took the page over meanwhile: the network stack answers.
  if (event.request.cache === 'force-cache') return;
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

// webSeedOf returns the stream URL's same-origin web seed, if any (a
// cross-origin one would need CORS for range reads; the engine covers it).
function webSeedOf(url) {
  const ws = url.searchParams.get('webseed');
  if (!ws) return null;
  try {
    const u = new URL(ws, self.location);
    return u.origin === self.location.origin ? u.href : null;
  } catch (e) {
    return null;
  }
}

// readEarly reads [offset, offset+length) from the web seed: {data, length
// (of the file), mime} like the page's answer, or null when the web seed
// cannot serve it.
async function readEarly(webSeed, offset, length) {
  let resp;
  try {
    resp = await fetch(webSeed, { headers: { Range: `bytes=${offset}-${offset + length - 1}` }, cache: 'no-store' });
    const m = /\/(\d+)$/.exec(resp.headers.get('content-range') || '');
    if (resp.status !== 206 || !m) {
      resp.body?.cancel();
      return null;
    }
    const data = await resp.arrayBuffer();
    return { data, length: Number(m[1]), mime: resp.headers.get('content-type') || 'application/octet-stream' };
  } catch (e) {
    return null;
  }
}

async function serve(event, url) {
  const infoHash = url.pathname.slice(STREAM_PATH.length).split('/')[0];
  const client = await findClient(event);
  if (!client) return new Response('no page runs the engine', { status: 503 });
  const streamId = `${event.clientId || 'c'}-${Math.random().toString(36).slice(2)}`;
  const range = parseRange(event.request.headers.get('range'));
  const webSeed = webSeedOf(url);
  const earlyKey = `${client.id} ${infoHash}`;
  // read asks the page's engine, or, before the page has opened the torrent,
  // the web seed within the budget.
  const read = async (offset, length) => {
    const spent = earlySpent.get(earlyKey) || 0;
    const n = Math.min(length, EARLY_CHUNK, EARLY_BUDGET - spent);
    // The page fetched the first bytes itself while this worker started
    // (engine.js prefetchEarly): they are asked for at once, while a
    // worker that may have been restarted looks up whether the page
    // opened the torrent (Cache Storage: the first visit's first read
    // would wait on that lookup); if it did, the answer is not needed.
    const fromPage = webSeed && n > 0 && !opened.has(earlyKey) ? ask(client, { type: MSG.EARLY, infoHash, offset, length: n }) : null;
    if (fromPage && !(await wasOpened(earlyKey))) {
      if (!earlySpent.has(earlyKey)) forgetGone();
      earlySpent.set(earlyKey, spent + n);
      const got = await fromPage;
      if (got && got.data instanceof ArrayBuffer && got.data.byteLength > 0) return got;
      if (got && got.end) {
        // The page's early bytes end here (its budget in seconds of media
        // was enough, or its engine opened the torrent): the engine serves
        // the rest, from peers first.
        earlySpent.set(earlyKey, EARLY_BUDGET);
      } else {
        const early = await readEarly(webSeed, offset, n);
        if (early) {
          // A copy for the page's engine (the original goes to the player).
          const copy = early.data.slice(0);
          client.postMessage({ type: MSG.WEBSEED, infoHash, offset, data: copy }, [copy]);
          return early;
        }
      }
    }
    return ask(client, { type: MSG.READ, infoHash, streamId, offset, length });
  };
  // The first read also tells the file length; suffix ranges need it first.
  let start = range && range.start !== undefined ? range.start : 0;
  let first = await read(start, CHUNK);
  if (first.error) return new Response(first.error, { status: 404 });
  const length = first.length;
  if (range && range.suffix !== undefined) {
    start = Math.max(0, length - range.suffix);
    first = await read(start, CHUNK);
    if (first.error) return new Response(first.error, { status: 500 });
  }
  if (start >= length) {
    client.postMessage({ type: MSG.CLOSE, infoHash, streamId });
    return new Response(null, { status: 416, headers: { 'Content-Range': `bytes */${length}` } });
  }
  const end = Math.min(range && range.end !== undefined ? range.end : length - 1, length - 1);
  let pos = start;
  let pending = first.data;
  const done = () => client.postMessage({ type: MSG.CLOSE, infoHash, streamId });
  const body = new ReadableStream({
    async pull(ctrl) {
      let data = pending;
      pending = null;
      if (!data) {
        const r = await read(pos, Math.min(CHUNK, end - pos + 1));
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
