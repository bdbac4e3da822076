// Swarmtube browser engine: loads the Go WebAssembly peer (client.wasm),
// registers the Service Worker that feeds <video> from it, and exposes a
// small API. See README.md next to this file for the contract.

import './messages.js';

const MSG = self.SwarmtubeMessages; // message types shared with sw.js

// pageMarks: when this page's start-up steps happened (ms since
// navigation), for startupMarks; engine: this module ran.
const pageMarks = { engine: performance.now() };

// controlledAtStart: whether a Service Worker controlled this page from its
// start, i.e. this browser has been here before (start.js saw it first; else
// as this module runs, which a first visit's worker may have claimed the
// page before, which only costs the storage check in playEarly).
const controlledAtStart = self.swarmtubeStart ? self.swarmtubeStart.controlledAtStart
  : !!(typeof navigator !== 'undefined' && navigator.serviceWorker && navigator.serviceWorker.controller);

const ENGINE_BASE = new URL('./', import.meta.url); // .../static/engine/
const STATIC_BASE = new URL('../', import.meta.url); // .../static/
const STREAM_BASE = new URL('stream/', ENGINE_BASE);
const READ_CHUNK = 1 << 20;

// The pod's extension map (Go: media.TypeByName); web's TestEngineMIMEMatchesPod
// keeps the two equal.
const MIME = {
  mp4: 'video/mp4', m4v: 'video/mp4', webm: 'video/webm', ogv: 'video/ogg', ogg: 'video/ogg',
  mov: 'video/quicktime', mkv: 'video/x-matroska', avi: 'video/x-msvideo', wmv: 'video/x-ms-asf',
};

function mimeOf(name) {
  const ext = (name.split('.').pop() || '').toLowerCase();
  return MIME[ext] || 'application/octet-stream';
}

// loadScript runs the classic script at src. A failed element is removed,
// so that a later load (loadEngine again) fetches it afresh.
function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => {
      s.remove();
      reject(new Error(`cannot load ${src}`));
    };
    document.head.appendChild(s);
  });
}

let loading = null;

/**
 * loadEngine loads the engine once per page and resolves to an Engine.
 * opts: wasmUrl, execUrl (defaults next to /static/), serviceWorker
 * (default true), swScope (default '/': the pod serves sw.js with
 * Service-Worker-Allowed: /). When a load fails (a script or the wasm did
 * not arrive: a flaky link), the next call loads again.
 */
export function loadEngine(opts = {}) {
  if (!loading) {
    loading = load(opts);
    loading.catch(() => { loading = null; });
  }
  return loading;
}

async function load({
  wasmUrl = new URL('client.wasm', STATIC_BASE).href,
  execUrl = new URL('wasm_exec.js', STATIC_BASE).href,
  serviceWorker = true,
  swScope = '/',
} = {}) {
  const t0 = performance.now();
  const swReady = serviceWorker ? startServiceWorker(swScope) : Promise.resolve(false);
  // Downloading and compiling the wasm (CPU) and starting Go (about a second
  // of the page's main thread) compete with a player that playEarly started:
  // measured on 2 cores, even the download alone delays its start, so all
  // of it waits until the video plays.
  if (startGate) await startGate;
  const resp = fetch(wasmUrl);
  const exec = globalThis.Go ? null : loadScript(execUrl);
  exec?.catch(() => {}); // awaited below, after the compile: not unhandled meanwhile
  const module = await compile(wasmUrl, resp);
  await exec;
  const go = new globalThis.Go();
  const ready = new Promise((resolve) => { globalThis.__swarmtubeReady = resolve; });
  const instance = await WebAssembly.instantiate(module, go.importObject);
  go.run(instance);
  const api = await ready;
  const startMs = performance.now() - t0;
  const engine = new Engine(api, await swReady, startMs);
  engine.wasmMemory = instance.exports.mem;
  return engine;
}

/**
 * prepare registers the Service Worker (the slow part of playEarly on a
 * first visit) without loading the wasm, so a page can call it first thing.
 * opts: swScope (as loadEngine).
 */
export function prepare({ swScope = '/' } = {}) {
  startServiceWorker(swScope);
}

async function compile(wasmUrl, resp) {
  try {
    return await WebAssembly.compileStreaming(resp);
  } catch (e) {
    // A server without the application/wasm type: compile from bytes.
    const again = await fetch(wasmUrl);
    if (!again.ok) throw new Error(`fetch ${wasmUrl}: ${again.status}`);
    return WebAssembly.compile(await again.arrayBuffer());
  }
}

// startGate, once playEarly started a video, settles when it plays (or
// after EARLY_HOLD_MS): the engine's start waits for it.
let startGate = null;
const EARLY_HOLD_MS = 2500;

const handles = new Map(); // infoHash → wasm handle, for the Service Worker
const expected = new Map(); // infoHash → {promise, resolve} of a torrent playEarly announced
// infoHash → [{offset, data}] the Service Worker read from the web seed
// for this page before it opened the torrent; handed to the engine on open.
const earlyWebSeed = new Map();
// infoHash → the web seed URL playEarly read those bytes from: the engine
// counts them for that seed (origin's or a mirror's, in stats().webSeeds).
const earlySeed = new Map();
const EXPECT_WAIT_MS = 30000;

let swSetup = null;

// startServiceWorker registers the Service Worker once per page and
// resolves to whether it controls the page.
function startServiceWorker(scope = '/') {
  if (!swSetup) swSetup = setupServiceWorker(scope);
  return swSetup;
}

/**
 * playEarly starts <video> on a torrent's stream before the engine has
 * loaded: until the page opens the torrent, the Service Worker serves the
 * first bytes from the same-origin web seed (the video's webseed_url),
 * then the engine takes over; open() hands it those bytes (see giveEarly).
 * The page itself fetches those first bytes at once, while the Service
 * Worker registers and starts (on a first visit that takes as long as a
 * plain <video>'s whole first request), and the worker asks the page for
 * them (prefetchEarly): one second of media (earlyBudget), then a piece at
 * a time only while the player needs it before the engine runs, at most
 * 1 MiB (sw.js EARLY_BUDGET). meta: {infoHash (40 hex), webSeed, name,
 * length (bytes), duration (seconds), pieceLength (bytes)}; without length
 * and duration the first request is the whole 1 MiB. The wasm's download, compilation and the start of Go
 * (CPU, main thread) then wait until the video plays, autoplay is refused,
 * the video fails or 2.5 s pass, if loadEngine has not got that far yet.
 * Resolves to false (and leaves the video alone) when no Service Worker
 * controls the page. Later, torrent.play(video) keeps the running stream.
 */
export async function playEarly(video, { infoHash, webSeed, name = 'video', length, duration, pieceLength }, { swScope = '/' } = {}) {
  pageMarks.playEarly ??= performance.now();
  const ih = String(infoHash || '').toLowerCase();
  if (!/^[0-9a-f]{40}$/.test(ih)) return false;
  const ws = webSeed ? new URL(webSeed, location.href) : null;
  // The page's head script began this very start (start.js start.early,
  // adopted as this page's prefetch when this module ran): keep it.
  const begun = self.swarmtubeStart?.early;
  const pre0 = prefetched.get(ih);
  if (begun && begun.video === video && pre0 && pre0.begun === begun) {
    if (pieceLength > 0) pre0.unit = pieceLength;
    pageMarks.src ??= begun.at;
    const release = holdEngine(video);
    if (!(await startServiceWorker(swScope))) {
      if (release) release();
      return false;
    }
    return true;
  }
  // A video this browser stored (a reload, a return visit) starts from its
  // stored pieces once the engine runs: reading its start from the web
  // seed again would cost the pod what it already sent. Only a page that
  // a Service Worker controlled from its start (every visit after the
  // first) asks: on a first visit nothing is stored, and there the
  // browser answers a storage call only once it has set storage up for
  // the worker's registration, which held the early fetch below until the
  // worker was nearly ready (wasmbench -mode startup -timeline: "stored"
  // beside "swScript"). A hard reload (no controller) may so fetch the
  // first EARLY_PREFETCH bytes once more.
  // When the page can, it reads that stored start itself and serves the
  // player from it, as it would its own fetch (readStoredStart): the first
  // frame does not wait for the engine to load and open the torrent.
  const sameOrigin = ws && ws.origin === location.origin && canServiceWorker();
  if (ws && controlledAtStart && sameOrigin && length > 0) {
    return playLooking(video, { ih, ws, name, length, pieceLength, budget: earlyBudget({ length, duration, pieceLength }) }, swScope);
  }
  const stored = ws && controlledAtStart ? await storedStart(ih) : null;
  const early = ws && !stored ? ws : null;
  if (early) earlySeed.set(ih, early.href);
  pageMarks.stored ??= performance.now();
  const budget = earlyBudget({ length, duration, pieceLength });
  const unit = pieceLength > 0 ? pieceLength : EARLY_CHUNK;
  const own = early && sameOrigin;
  const u = new URL(`${ih}/${encodeURIComponent(name)}`, STREAM_BASE);
  if (early) u.searchParams.set('webseed', early.href);
  // A page no worker controls yet (a first visit) points the <video> at
  // its stream at once, instead of when the worker controls the page
  // (it registers and starts in ~50-70 ms, more than a first request takes
  // on a fast link): its first request goes to the network, where the
  // browser's HTTP cache answers it with the page's own fetch of the first
  // budget bytes of that very URL (prefetchEarly; the pod serves them,
  // webseed.StartHandler). The player starts as a plain <video> does, the
  // page holds the bytes to hand to the engine, and the pod sends them
  // once. The player's next request, made when that answer ends, goes
  // through the worker once it controls the page.
  const direct = own && length > 0 && !navigator.serviceWorker.controller;
  expect(ih);
  let pre = null;
  let release;
  if (direct) {
    u.searchParams.set('early', String(budget));
    pre = prefetchEarly(ih, early.href, budget, unit, video, u.href);
    release = holdEngine(video);
    // The player's data then comes from the network first and from the
    // worker after: Chromium's media loader refuses to mix the two
    // (PIPELINE_ERROR_READ, "data source error": it checks that one
    // resource's data has one origin) unless the element is in CORS mode,
    // where every byte is readable by the page anyway.
    video.crossOrigin = 'anonymous';
    video.src = u.href;
    pageMarks.src ??= performance.now();
    video.play().catch(() => release && release());
  } else if (own) {
    pre = prefetchEarly(ih, early.href, budget, unit, video);
  }
  if (!(await startServiceWorker(swScope))) {
    pre?.abort();
    return false;
  }
  if (direct) return true;
  // The engine's start waits for the video only while the page feeds it
  // (early bytes, or a stored start it read): a stored video the page could
  // not read plays from the engine alone, which must not wait
  // EARLY_HOLD_MS for a first frame that only it can give.
  if (early) release = holdEngine(video);
  video.src = u.href;
  pageMarks.src ??= performance.now();
  // Autoplay may be refused (the page shows controls): then nothing plays
  // soon, so the engine need not wait.
  video.play().catch(() => release && release());
  return true;
}

// playLooking is playEarly on a page a worker controlled from its start,
// for a video of this pod whose length is known: the look-up of its stored
// start (readStoredStart, OPFS and IndexedDB, 40-70 ms) runs beside the
// player's start instead of before it. The <video> gets its stream at
// once; the worker's first reads for it wait in earlyFromPrefetch on the
// page's prefetch record, which the look-up then fills with the stored
// start (a reload: nothing fetched, nothing handed to the engine) or
// begins fetching from the web seed (a video not stored). The stream URL
// is the same either way. meta: {ih, ws (the web seed URL), name, length,
// pieceLength, budget (earlyBudget)}.
async function playLooking(video, { ih, ws, name, length, pieceLength, budget }, swScope) {
  const unit = pieceLength > 0 ? pieceLength : EARLY_CHUNK;
  const u = new URL(`${ih}/${encodeURIComponent(name)}`, STREAM_BASE);
  u.searchParams.set('webseed', ws.href);
  expect(ih);
  // A record this page made already (the same video played again) is kept.
  const mine = !prefetched.has(ih);
  const p = mine ? pendingPrefetch(ih, ws.href, unit, video) : prefetched.get(ih);
  const lookup = mine ? readStoredStart(ih, length, pieceLength) : null;
  if (!(await startServiceWorker(swScope))) {
    // No fetch is in flight yet: the record fails here, waking its waiters.
    Object.assign(p, { failed: true, busy: false });
    wakeEarly(p);
    return false;
  }
  const release = holdEngine(video);
  video.src = u.href;
  pageMarks.src ??= performance.now();
  video.play().catch(() => release && release());
  if (!mine) return true;
  const stored = await lookup;
  pageMarks.stored ??= performance.now();
  if (p.failed) return true;
  if (stored) {
    storedPrefetch(p, stored, length, mimeOf(ws.pathname));
  } else {
    earlySeed.set(ih, ws.href);
    fetchEarly(p, 0, budget);
  }
  return true;
}

// holdEngine makes the engine's start (loadEngine) wait until video's first
// frame is on the screen, it fails, or EARLY_HOLD_MS pass, and returns the
// function that lets it start at once; undefined when a hold is already set.
function holdEngine(video) {
  if (startGate) return undefined;
  let release;
  startGate = new Promise((resolve) => {
    release = resolve;
    // 'playing' can fire before the page's first paint on a busy machine;
    // the wasm's download then came ahead of the page's largest paint (the
    // video) and Lighthouse's slow-4G LCP took the whole wasm: 14 s. So
    // wait for the first frame to reach the screen: the frame that
    // requestVideoFrameCallback names (where there is one), then two
    // animation frames, by which that one was painted.
    const painted = () => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(resolve, 0)));
    const onPlaying = () => {
      if (typeof video.requestVideoFrameCallback === 'function') video.requestVideoFrameCallback(painted);
      else painted();
    };
    // Playing already (a start the page's head script began).
    if (!video.paused && video.readyState >= HTMLMediaElement.HAVE_FUTURE_DATA) onPlaying();
    else video.addEventListener('playing', onPlaying, { once: true });
    video.addEventListener('error', resolve, { once: true });
    setTimeout(resolve, EARLY_HOLD_MS);
  });
  return release;
}

// EARLY_PREFETCH caps what playEarly fetches from the web seed itself:
// sw.js's EARLY_BUDGET, all the worker reads before the engine runs (web's
// TestEarlyPrefetchIsWorkerBudget keeps the two equal). Every byte of it
// is pod upload per viewer, whether or not peers hold it.
const EARLY_PREFETCH = 1 << 20;
// EARLY_SECONDS of media (at the file's mean bitrate, from the video's
// metadata) is what playEarly's first request asks for: what the player
// needs to start (a few hundred ms of media and the faststart moov) and to
// play while the engine starts. Measured in Chromium (BENCHMARKS.md, "8
// start 3 s apart"): the engine opens 0.3-0.6 s after the first frame, and
// later pieces come from peers.
const EARLY_SECONDS = 1;
// EARLY_LOW: beyond the first request, while the engine has not opened
// the torrent, the page fetches the next piece from the web seed only when
// the player needs it, up to EARLY_PREFETCH: it plays with less than
// EARLY_LOW seconds of wall time ahead (about what one range request of a
// piece takes on a slow link), it has no metadata yet (a moov larger than
// the first request), or it has not started EARLY_STUCK_MS after asking.
// A slow engine start costs the pod what the player plays, not a stall.
const EARLY_LOW = 0.5;
const EARLY_STUCK_MS = 500;
const EARLY_POLL_MS = 100;
const EARLY_CHUNK = 256 << 10; // sw.js EARLY_CHUNK: the unit when the piece length is not known

/**
 * earlyBudget returns the bytes playEarly's first request fetches from the
 * web seed: EARLY_SECONDS of media at the file's mean bitrate (length ÷
 * duration), rounded up to whole pieces (the engine keeps only whole
 * pieces of what it is handed), at least one piece, at most EARLY_PREFETCH
 * and the file. meta: {length (bytes), duration (seconds), pieceLength
 * (bytes)}, from the video's metadata (API: file.size, video.duration,
 * file.piece_length); EARLY_PREFETCH when the bitrate is not known.
 */
export function earlyBudget({ length, duration, pieceLength } = {}) {
  if (!(length > 0 && duration > 0)) return EARLY_PREFETCH;
  const unit = pieceLength > 0 ? pieceLength : EARLY_CHUNK;
  const want = Math.ceil((EARLY_SECONDS * length) / duration / unit) * unit;
  return Math.min(Math.max(want, unit), EARLY_PREFETCH, length);
}

// prefetched: infoHash → the first bytes of the file, fetched by the page
// from the web seed while its Service Worker starts and until the engine
// opens the torrent ({buf, got (bytes arrived, from offset 0), length (of
// the file, 0 until known), mime, unit (piece length), busy (a fetch in
// flight), failed, opened (the engine has the torrent: fetch no more),
// video, wake (waiters), abort, handle, given}).
const prefetched = new Map();

function canServiceWorker() {
  return typeof window !== 'undefined' && window.isSecureContext && 'serviceWorker' in navigator;
}

// prefetchEarly fetches the file's first budget bytes (earlyBudget) from
// the web seed in one range request, so that on a first visit the bytes
// are on their way while the Service Worker registers, installs and
// activates (the <video> can use the stream only once the worker controls
// the page). The worker asks for them (onWorkerMessage, MSG.EARLY) instead
// of fetching them itself, and for more as the player reads on: those are
// fetched a piece at a time only while the player needs them before the
// engine runs (earlyFromPrefetch). They are handed to the engine on open
// like the worker's own early reads, so the pod sends them once either way.
// first, when given, is the URL of the first request instead of url: the
// <video>'s own stream URL on a first visit (playEarly's direct start), so
// that the browser's HTTP cache answers the player's first request with the
// page's bytes (Chromium does, joining the request in flight). response:
// that first request, made already (start.js, see adoptBegun).
function prefetchEarly(infoHash, url, budget, unit, video, first, response) {
  const have = prefetched.get(infoHash);
  if (have) return have;
  const p = pendingPrefetch(infoHash, url, unit, video);
  fetchEarly(p, 0, budget, first, response);
  return p;
}

function wakeEarly(p) {
  for (const w of p.wake.splice(0)) w();
}

// fetchEarly appends [from, to) of the file to p.buf from the web seed
// (from is p.got); a failure stops the page's early fetching (the worker
// reads the web seed itself, within its budget).
function fetchEarly(p, from, to, first, response) {
  p.busy = true;
  (async () => {
    // The first request through the HTTP cache, which the player reads it
    // from; the worker passes a 'force-cache' request to the network
    // (sw.js), should it control the page by then. response: that request,
    // made already (start.js).
    const resp = await (response || fetch(first || p.url, { headers: { Range: `bytes=${from}-${to - 1}` }, cache: first ? 'force-cache' : 'no-store', signal: p.signal }));
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(resp.headers.get('content-range') || '');
    if (resp.status !== 206 || !m || Number(m[1]) !== from) {
      resp.body?.cancel();
      throw new Error(`early range ${from}-${to - 1}: status ${resp.status}`);
    }
    if (!p.length) {
      p.length = Number(m[3]);
      p.mime = resp.headers.get('content-type') || 'application/octet-stream';
      p.buf = new Uint8Array(Math.min(EARLY_PREFETCH, p.length));
    }
    const end = Math.min(Number(m[2]) + 1, p.buf.byteLength);
    const reader = resp.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const n = Math.min(value.byteLength, end - p.got);
      p.buf.set(value.subarray(0, n), p.got);
      p.got += n;
      wakeEarly(p);
    }
  })().catch(() => { p.failed = true; }).finally(() => {
    p.busy = false;
    wakeEarly(p);
    if (p.handle) givePrefetched(p);
  });
}

// earlyNeeded reports whether the player, asking for bytes since waitedMs,
// needs them from the web seed before the engine runs (see EARLY_LOW).
function earlyNeeded(video, waitedMs) {
  if (!video || video.paused || video.error) return false;
  if (video.readyState < HTMLMediaElement.HAVE_METADATA) return true;
  if (video.currentTime === 0 && video.readyState < HTMLMediaElement.HAVE_FUTURE_DATA) return waitedMs >= EARLY_STUCK_MS;
  const t = video.currentTime;
  const b = video.buffered;
  let ahead = 0;
  for (let i = 0; i < b.length; i++) {
    if (b.start(i) <= t + 0.05 && t <= b.end(i)) ahead = b.end(i) - t;
  }
  return ahead / (video.playbackRate || 1) < EARLY_LOW;
}

// givePrefetched hands the engine the prefetched bytes it has not had yet
// (whole pieces while a fetch is in flight: the engine keeps only the whole
// pieces of each hand-over), and forgets the prefetch once the engine has
// all of it (no fetch starts after open).
function givePrefetched(p) {
  const from = p.given || 0;
  const pl = p.handle.pieceLength;
  const to = p.busy ? Math.floor(p.got / pl) * pl : p.got;
  if (!p.busy && prefetched.get(p.handle.infoHash) === p) prefetched.delete(p.handle.infoHash);
  if (to <= from) return Promise.resolve();
  p.given = to;
  return giveEarly(p.handle, [{ offset: from, data: p.buf.subarray(from, to) }]);
}

// earlyFromPrefetch resolves to [offset, offset+length) of the file from
// the page's prefetch, in the Service Worker's read answer shape ({data,
// length (of the file), mime}; data may be shorter), fetching the next
// piece first when the player needs it (earlyNeeded) and the engine has
// not opened the torrent; {end: true} when the early bytes end there (the
// engine serves the rest); null when the page does not hold them (the
// worker reads the web seed itself).
async function earlyFromPrefetch(infoHash, offset, length) {
  const p = prefetched.get(infoHash);
  if (!p) return handles.has(infoHash) ? { end: true } : null;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0) return null;
  const asked = performance.now();
  for (;;) {
    if (p.got >= offset + length || (!p.busy && offset < p.got)) {
      const end = Math.min(offset + length, p.got);
      return { data: p.buf.slice(offset, end).buffer, length: p.length, mime: p.mime };
    }
    if (!p.busy) {
      if (p.failed || p.length === 0) return null;
      if (p.opened || offset > p.got || p.got >= p.buf.byteLength) return { end: true };
      if (earlyNeeded(p.video, performance.now() - asked)) {
        fetchEarly(p, p.got, Math.min(p.buf.byteLength, (Math.floor(p.got / p.unit) + 1) * p.unit));
        continue;
      }
    }
    await new Promise((r) => {
      p.wake.push(r);
      if (!p.busy) setTimeout(r, EARLY_POLL_MS);
    });
  }
}

// readStoredStart reads the first pieces of a video from the engine's store
// (OPFS or IndexedDB, both asked at once), contiguous from piece 0, at most
// EARLY_PREFETCH bytes: a Uint8Array, or null when piece 0 is not stored.
// length is the file's size in bytes; pieceLength, when not known, is piece
// 0's size. Not verified here: the player gets what the engine wrote after
// verifying it, and the engine verifies again what it reads back.
function readStoredStart(infoHash, length, pieceLength) {
  const want = Math.min(length, EARLY_PREFETCH);
  const join = (parts) => {
    if (!parts || parts.length === 0) return null;
    const pl = pieceLength > 0 ? pieceLength : parts[0].byteLength;
    let n = 0;
    for (const [i, part] of parts.entries()) {
      // Every piece but the file's last is a whole piece long.
      if (part.byteLength !== Math.min(pl, length - i * pl)) break;
      n = i + 1;
    }
    if (n === 0) return null;
    const out = new Uint8Array(parts.slice(0, n).reduce((a, p) => a + p.byteLength, 0));
    let at = 0;
    for (const part of parts.slice(0, n)) { out.set(part, at); at += part.byteLength; }
    return out;
  };
  const count = (pl) => Math.max(1, Math.ceil(want / pl));
  return new Promise((resolve) => {
    let left = 2;
    const answer = (parts) => {
      const got = join(parts);
      if (got) resolve(got);
      else if (--left === 0) resolve(null);
    };
    readStoredOPFS(infoHash, count, pieceLength).then(answer, () => answer(null));
    readStoredIDB(infoHash, count, pieceLength).then(answer, () => answer(null));
  });
}

// readStoredOPFS reads pieces 0, 1, … of a video from OPFS (layout:
// storedStartOPFS) until one is missing or count(pieceLength) are read;
// count's argument is piece 0's size when pieceLength is not known.
async function readStoredOPFS(infoHash, count, pieceLength) {
  try {
    const dir = await opfsPieces(infoHash);
    const read = async (i) => new Uint8Array(await (await (await dir.getFileHandle(`p${i}`)).getFile()).arrayBuffer());
    const first = await read(0);
    const n = count(pieceLength > 0 ? pieceLength : first.byteLength);
    const rest = await Promise.all(Array.from({ length: n - 1 }, (_, i) => read(i + 1).catch(() => null)));
    const parts = [first];
    for (const part of rest) {
      if (!part) break;
      parts.push(part);
    }
    return parts;
  } catch (e) {
    return null;
  }
}

// readStoredIDB is readStoredOPFS for the IndexedDB store (layout:
// storedStartIDB), in one read-only transaction.
async function readStoredIDB(infoHash, count, pieceLength) {
  const db = await idbPieces();
  if (!db) return null;
  return new Promise((resolve) => {
    const done = (v) => { db.close(); resolve(v); };
    try {
      const store = db.transaction('pieces', 'readonly').objectStore('pieces');
      const parts = [];
      const next = (i, n) => {
        if (i >= n) { done(parts); return; }
        const get = store.get([infoHash, i]);
        get.onsuccess = () => {
          const v = get.result;
          if (!(v instanceof Uint8Array) && !(v instanceof ArrayBuffer)) { done(parts); return; }
          parts.push(new Uint8Array(v));
          next(i + 1, i === 0 ? count(pieceLength > 0 ? pieceLength : parts[0].byteLength) : n);
        };
        get.onerror = () => done(parts);
      };
      next(0, 1);
    } catch (e) {
      done(null);
    }
  });
}

// storedPrefetch makes a video's stored start (readStoredStart) the page's
// early bytes for the worker's reads (earlyFromPrefetch), as if fetched,
// in the pending record p (pendingPrefetch), whose waiters it wakes:
// nothing is handed to the engine, which holds those pieces, and nothing
// more is fetched from the web seed beyond them (the engine serves the
// rest, from storage first).
function storedPrefetch(p, bytes, length, mime) {
  Object.assign(p, { buf: bytes, got: bytes.byteLength, given: bytes.byteLength, length, mime, busy: false });
  wakeEarly(p);
}

// pendingPrefetch is the prefetch record (see prefetched) of infoHash, its
// bytes not known yet: the worker's reads wait on it (earlyFromPrefetch
// waits while it is busy) until fetchEarly (prefetchEarly) or
// storedPrefetch fills it.
function pendingPrefetch(infoHash, url, unit, video) {
  const ctl = new AbortController();
  const p = {
    buf: new Uint8Array(0), got: 0, length: 0, mime: '', unit, busy: true, failed: false, opened: false,
    video, url, signal: ctl.signal, wake: [], abort: () => ctl.abort(),
  };
  prefetched.set(infoHash, p);
  return p;
}

// storedStart reports whether the engine's store holds the first piece of
// a video, in either backend (wasm/jsutil, which picks OPFS where a page can
// write it, else IndexedDB): both are asked at once, so a stored start is
// found as soon as one answers yes, and a miss costs the slower of the two.
// Only a hint: the engine verifies what it reads back, and fetches a piece
// that fails.
function storedStart(infoHash) {
  return new Promise((resolve) => {
    let left = 2;
    const answer = (found) => {
      if (found) resolve(true);
      else if (--left === 0) resolve(false);
    };
    storedStartOPFS(infoHash).then(answer, () => answer(false));
    storedStartIDB(infoHash).then(answer, () => answer(false));
  });
}

// opfsPieces resolves to a video's directory in the engine's OPFS store
// (swarmtube-pieces/<infohash>/, holding p<index>, one file per piece);
// it rejects when there is none.
async function opfsPieces(infoHash) {
  const root = (await self.swarmtubeStart?.storage) || (await navigator.storage.getDirectory());
  return (await root.getDirectoryHandle('swarmtube-pieces')).getDirectoryHandle(infoHash);
}

// storedStartOPFS: the OPFS layout is swarmtube-pieces/<infohash>/p<index>.
async function storedStartOPFS(infoHash) {
  try {
    await (await opfsPieces(infoHash)).getFileHandle('p0');
    return true;
  } catch (e) {
    return false;
  }
}

// idbPieces opens the engine's IndexedDB store (database swarmtube-pieces,
// object store "pieces", key [infohash, index]) to read it: null when there
// is none. A browser without that database would create an empty one on
// open (onupgradeneeded, from version 0): the upgrade is aborted instead,
// so looking leaves nothing behind and the engine creates it with its
// object stores when it needs it.
function idbPieces() {
  return new Promise((resolve) => {
    let req;
    try {
      req = indexedDB.open('swarmtube-pieces');
    } catch (e) {
      resolve(null); // no IndexedDB (or not in this context)
      return;
    }
    req.onupgradeneeded = () => req.transaction.abort();
    req.onerror = () => resolve(null);
    req.onblocked = () => resolve(null);
    req.onsuccess = () => {
      const db = req.result;
      if (db.objectStoreNames.contains('pieces')) {
        resolve(db);
      } else {
        db.close();
        resolve(null);
      }
    };
  });
}

// storedStartIDB: whether the IndexedDB store (idbPieces) holds piece 0.
async function storedStartIDB(infoHash) {
  const db = await idbPieces();
  if (!db) return false;
  return new Promise((resolve) => {
    try {
      const count = db.transaction('pieces', 'readonly').objectStore('pieces').count([infoHash, 0]);
      count.onsuccess = () => { db.close(); resolve(count.result > 0); };
      count.onerror = () => { db.close(); resolve(false); };
    } catch (e) {
      db.close();
      resolve(false);
    }
  });
}

function expect(infoHash) {
  if (handles.has(infoHash) || expected.has(infoHash)) return;
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  expected.set(infoHash, { promise, resolve });
}

// handleFor resolves to the open torrent's handle, waiting a while for one
// that playEarly announced; null when the page does not open it.
async function handleFor(infoHash) {
  const h = handles.get(infoHash);
  if (h) return h;
  const e = expected.get(infoHash);
  if (!e) return null;
  let t;
  const timeout = new Promise((r) => { t = setTimeout(() => r(null), EXPECT_WAIT_MS); });
  try {
    return await Promise.race([e.promise, timeout]);
  } finally {
    clearTimeout(t);
  }
}

async function setupServiceWorker(scope) {
  if (!('serviceWorker' in navigator)) return false;
  navigator.serviceWorker.onmessage = onWorkerMessage;
  // What the worker asked before this module ran (start.js kept it).
  for (const ev of self.swarmtubeStart?.messages?.splice(0) || []) onWorkerMessage(ev);
  if (!navigator.serviceWorker.controller) {
    navigator.serviceWorker.addEventListener('controllerchange', () => { pageMarks.controlled ??= performance.now(); }, { once: true });
  }
  // The page's head registered it already (start.js), unless it could not.
  const early = self.swarmtubeStart;
  const url = new URL('sw.js', ENGINE_BASE).href;
  let reg = early && url === new URL('/static/engine/sw.js', location.href).href &&
    new URL(scope, location.href).href === new URL('/', location.href).href ? await early.registration : null;
  if (early && reg) Object.assign(pageMarks, { register: early.register, registered: early.registered, controlled: early.controlled });
  if (!reg) {
    pageMarks.register = performance.now();
    try {
      reg = await navigator.serviceWorker.register(url, { scope });
    } catch (e) {
      console.warn('swarmtube: service worker registration failed', e);
      return false;
    }
    pageMarks.registered = performance.now();
  }
  if (!navigator.serviceWorker.controller) {
    const claimed = new Promise((resolve) => {
      navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true });
    });
    // An active worker that does not control the page (a hard reload
    // bypasses workers; it claimed the pages open when it activated) is
    // asked to take it, or the page would wait for ever.
    if (reg.active && !navigator.serviceWorker.controller) reg.active.postMessage({ type: MSG.CLAIM });
    await claimed;
  }
  return true;
}

/**
 * startupMarks resolves to when this page's Service Worker start-up steps
 * happened, in ms since navigation (wasmbench's timeline): engine (this
 * module ran), register (the call: the page's head, start.js, or this
 * module), registered (its promise), controlled (controllerchange, on a
 * first visit), playEarly (called), stored (the check for a stored start
 * of the video done), src
 * (playEarly pointed the <video> at the stream), and the worker's own: swScript (its script starts),
 * swImported, swInstall, swActivate, swClaimed (clients.claim resolved).
 * A worker that was running before the page has its older times.
 */
export async function startupMarks() {
  const out = Object.fromEntries(Object.entries(pageMarks).filter(([, v]) => v !== undefined));
  const c = navigator.serviceWorker && navigator.serviceWorker.controller;
  if (!c) return out;
  const sw = await new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = (ev) => { ch.port1.close(); resolve(ev.data || {}); };
    c.postMessage({ type: MSG.MARKS }, [ch.port2]);
    setTimeout(() => resolve({}), 2000);
  });
  for (const [k, v] of Object.entries(sw)) {
    if (Number.isFinite(v)) out[k] = v - performance.timeOrigin;
  }
  return out;
}

// onWorkerMessage answers the Service Worker's reads for <video>.
function onWorkerMessage(ev) {
  const msg = ev.data;
  if (!msg || typeof msg !== 'object' || !Object.values(MSG).includes(msg.type)) return;
  const port = ev.ports[0];
  if (msg.type === MSG.CLOSE) {
    const h = handles.get(msg.infoHash);
    if (h) h.closeStream(msg.streamId);
    return;
  }
  if (msg.type === MSG.WEBSEED) {
    if (!(msg.data instanceof ArrayBuffer) || !Number.isSafeInteger(msg.offset)) return;
    const chunk = { offset: msg.offset, data: new Uint8Array(msg.data) };
    const h = handles.get(msg.infoHash);
    if (h) {
      giveEarly(h, [chunk]);
    } else {
      if (!earlyWebSeed.has(msg.infoHash)) earlyWebSeed.set(msg.infoHash, []);
      earlyWebSeed.get(msg.infoHash).push(chunk);
    }
    return;
  }
  if (!port) return;
  if (msg.type === MSG.EARLY) {
    // r: bytes (transferred), {end} or null (a miss: the worker reads them).
    earlyFromPrefetch(msg.infoHash, msg.offset, msg.length).then(
      (r) => port.postMessage(r ?? { miss: true }, r && r.data ? [r.data] : []),
      () => port.postMessage({ miss: true }),
    );
    return;
  }
  handleFor(msg.infoHash).then((h) => {
    if (!h) {
      port.postMessage({ error: `torrent ${msg.infoHash} is not open in this page` });
      return;
    }
    readFor(h, msg, port);
  });
}

// giveEarly hands the engine bytes the Service Worker read from the web
// seed (merged into contiguous runs, since a piece may span reads): it
// counts them in bytesFromWebSeed and keeps the whole pieces, so it does
// not fetch them again and can share them with other viewers.
function giveEarly(h, chunks) {
  const runs = [];
  for (const c of [...chunks].sort((a, b) => a.offset - b.offset)) {
    const last = runs[runs.length - 1];
    if (last && last.offset + last.length === c.offset) {
      last.parts.push(c.data);
      last.length += c.data.byteLength;
    } else {
      runs.push({ offset: c.offset, length: c.data.byteLength, parts: [c.data] });
    }
  }
  return Promise.all(runs.map((r) => {
    const buf = new Uint8Array(r.length);
    let n = 0;
    for (const p of r.parts) { buf.set(p, n); n += p.byteLength; }
    return h.addWebSeedData(r.offset, buf, earlySeed.get(h.infoHash) || '').catch((err) => console.warn('swarmtube: early web seed data', err));
  }));
}

function readFor(h, msg, port) {
  // The torrent may have closed while the read waited for it (handleFor):
  // its wasm functions are released then.
  if (handles.get(h.infoHash) !== h) {
    port.postMessage({ error: `torrent ${msg.infoHash} was closed in this page` });
    return;
  }
  h.read(msg.streamId, msg.offset, Math.min(msg.length || READ_CHUNK, READ_CHUNK)).then(
    (data) => port.postMessage({ data: data.buffer, length: h.length, mime: mimeOf(h.name) }, [data.buffer]),
    (err) => port.postMessage({ error: String(err && err.message || err) }),
  );
}

/** Engine is the loaded wasm peer. */
export class Engine {
  constructor(api, serviceWorker, startMs) {
    this.api = api;
    /** Whether a Service Worker controls this page (needed by play()). */
    this.serviceWorker = serviceWorker;
    /** Milliseconds from loadEngine() to the wasm being ready. */
    this.startMs = startMs;
    this.version = api.version;
  }

  /**
   * open streams a video: torrent is a .torrent URL (e.g. the API's
   * torrent_url) or its bytes. opts: see wasm/cmd/client (memoryBudget,
   * trackers, podTracker, origin, iceServers, webSeed, logLevel). Without opts.iceServers the
   * page's pod gives them (iceServers()).
   */
  async open(torrent, opts = {}) {
    let bytes = torrent;
    if (typeof torrent === 'string' || torrent instanceof URL) {
      const resp = await fetch(torrent);
      if (!resp.ok) throw new Error(`fetch ${torrent}: ${resp.status}`);
      bytes = new Uint8Array(await resp.arrayBuffer());
    }
    const iceServers = opts.iceServers ?? await podIceServers();
    return this.#wrap(await this.api.open(bytes, { ...opts, iceServers }));
  }

  /**
   * seedFile hashes a File in the engine (opts.onProgress(done, total)),
   * exactly as the pod will (faststart rewrite + torrentfile), and seeds it
   * at once. opts.title or opts.name set info.name; opts.trackers the
   * announce-list (default: this pod's WebSocket tracker, which the engine
   * builds as the pod does, torrentfile.PodTrackers).
   */
  async seedFile(file, opts = {}) {
    const iceServers = opts.iceServers ?? await podIceServers();
    return this.#wrap(await this.api.seedFile(file, { ...opts, iceServers }));
  }

  /** hashBenchmark measures SHA-1 speed: {subtleMBps, goMBps}. */
  hashBenchmark(mib = 64) { return this.api.hashBenchmark(mib); }

  /**
   * storage resolves to the browser's store of verified pieces:
   * {backend ("opfs", "indexeddb", "none"), bytes, budget, videos}.
   * opts: storageShare, storageBudget (see open).
   */
  storage(opts = {}) { return this.api.storage(opts); }

  /** clearStorage deletes every stored piece; resolves to storage(). */
  clearStorage(opts = {}) { return this.api.clearStorage(opts); }

  /**
   * memory reports what the engine takes: {wasmBytes (the WebAssembly
   * memory, which never shrinks), jsHeapBytes (performance.memory, Chromium
   * only, else undefined)}.
   */
  memory() {
    return {
      wasmBytes: this.wasmMemory ? this.wasmMemory.buffer.byteLength : undefined,
      jsHeapBytes: performance.memory ? performance.memory.usedJSHeapSize : undefined,
    };
  }

  async #wrap(h) {
    const t = new Torrent(h, this);
    // Before any read reaches the engine: what the Service Worker already
    // read from the web seed (more may arrive meanwhile), so the engine
    // fetches none of it again.
    // What arrived of the page's own prefetch; the rest follows when it
    // arrives (prefetchEarly), so open does not wait on the network.
    // A piece still on its way from the web seed is waited for: handed
    // over later, it could meet the engine's own fetch of it.
    const pre = prefetched.get(h.infoHash);
    if (pre) {
      pre.opened = true; // the engine serves the player's next reads: no more fetches
      while (pre.busy) await new Promise((r) => pre.wake.push(r));
      pre.handle = h;
      wakeEarly(pre);
      await givePrefetched(pre);
    }
    for (let early; (early = earlyWebSeed.get(h.infoHash));) {
      earlyWebSeed.delete(h.infoHash);
      await giveEarly(h, early);
    }
    handles.set(h.infoHash, h);
    expected.get(h.infoHash)?.resolve(h);
    expected.delete(h.infoHash);
    tellWorker(MSG.OPENED, h.infoHash);
    return t;
  }
}

// tellWorker tells the controlling Service Worker which torrents this page
// has open (it reads from the web seed only before that, see sw.js).
function tellWorker(type, infoHash) {
  const c = typeof navigator !== 'undefined' && navigator.serviceWorker && navigator.serviceWorker.controller;
  if (c) c.postMessage({ type, infoHash });
}

let iceCache = null; // {servers, until}

/**
 * podIceServers resolves to the STUN/TURN servers this page's pod hands out
 * (GET /api/v1/webrtc/ice-servers: its own, with credentials valid for
 * "ttl" seconds, or the external ones it is configured with), kept for half
 * their lifetime. They go to RTCPeerConnection as they are, so ICE prefers
 * direct paths and relays only when nothing else works. On any failure:
 * none (peers on one network still connect).
 */
export async function podIceServers() {
  if (iceCache && performance.now() < iceCache.until) return iceCache.servers;
  try {
    const resp = await fetch(new URL('/api/v1/webrtc/ice-servers', location.href), { cache: 'no-store' });
    if (!resp.ok) throw new Error(`status ${resp.status}`);
    const body = await resp.json();
    const servers = Array.isArray(body.ice_servers) ? body.ice_servers : [];
    const ttl = Number(body.ttl) > 0 ? Number(body.ttl) : 3600;
    iceCache = { servers, until: performance.now() + (ttl * 1000) / 2 };
    return servers;
  } catch (err) {
    console.warn('swarmtube: no ICE servers from the pod', err);
    return [];
  }
}

// bufferAhead returns the seconds buffered after the playhead (the whole
// rest once the video has ended).
function bufferAhead(video) {
  if (video.ended) return 1e9;
  // Until the player itself thinks it can play through (it waits for that
  // before starting, and again after a stall), it is starving whatever it
  // holds; unless it is playing already: a video playEarly started never
  // reaches "enough" while its download waits for the engine, though it
  // holds seconds of the early bytes, which peers should get to beat.
  const playing = video.currentTime > 0 && !video.paused && !video.seeking &&
    video.readyState >= HTMLMediaElement.HAVE_FUTURE_DATA;
  if (video.readyState < HTMLMediaElement.HAVE_ENOUGH_DATA && !playing) return 0;
  const t = video.currentTime;
  const b = video.buffered;
  for (let i = 0; i < b.length; i++) {
    if (b.start(i) <= t + 0.05 && t <= b.end(i)) return b.end(i) - t;
  }
  return 0;
}

// playback is what the engine needs of the player (swarm.Playback): the
// playhead and duration decide the pod horizon (30 s of media; the
// engine converts with length ÷ duration), the rest when a piece is due.
function playback(video) {
  const d = video.duration;
  return {
    position: video.currentTime,
    duration: Number.isFinite(d) ? d : 0,
    rate: video.playbackRate || 1,
    paused: video.paused && !video.seeking,
    buffer: bufferAhead(video),
  };
}

/** Torrent is one open video. */
export class Torrent {
  constructor(h, engine) {
    this.handle = h;
    this.engine = engine;
    this.infoHash = h.infoHash;
    this.name = h.name;
    this.length = h.length;
    this.pieceLength = h.pieceLength;
    this.torrent = h.torrent;
    this.peerId = h.peerId;
    /** URL the Service Worker answers from this torrent (give it to <video>). */
    this.streamURL = new URL(`${h.infoHash}/${encodeURIComponent(h.name)}`, STREAM_BASE).href;
    this.mime = mimeOf(h.name);
  }

  /**
   * play points a <video> at the stream and keeps the engine informed of
   * the playback (playhead, duration, rate, pause, buffer): the pod is
   * asked only for pieces within 30 s of media after the playhead, and for
   * those only when other viewers cannot deliver them in time.
   */
  play(video) {
    if (!this.engine.serviceWorker) throw new Error('swarmtube: no Service Worker controls this page');
    // Keep a stream playEarly started (same torrent, maybe another name).
    if (!video.src.startsWith(new URL(`${this.infoHash}/`, STREAM_BASE).href)) video.src = this.streamURL;
    clearInterval(this.bufferTimer);
    // At once too: a video playEarly started may hold seconds already, which
    // decides whether the engine's first pieces wait for peers.
    const report = () => this.handle.setPlayback(playback(video));
    report();
    this.bufferTimer = setInterval(report, 250);
    return video.play().catch(() => {}); // autoplay may be refused; the page shows controls
  }

  /** stats: peers, peerList, downloadRate, uploadRate, bytesFromPeers, bytesFromWebSeed, ... */
  stats() { return this.handle.stats(); }

  /** read reads ≤ maxLen bytes at offset (resolves empty at the end). */
  read(streamId, offset, maxLen) { return this.handle.read(streamId, offset, maxLen); }

  close() {
    clearInterval(this.bufferTimer);
    handles.delete(this.infoHash);
    expected.delete(this.infoHash);
    earlyWebSeed.delete(this.infoHash);
    earlySeed.delete(this.infoHash);
    prefetched.get(this.infoHash)?.abort();
    prefetched.delete(this.infoHash);
    tellWorker(MSG.CLOSED, this.infoHash);
    this.handle.close();
  }
}

// adoptBegun takes over a first visit's start that the page's head script
// began (start.js start.early: the stream URL, the <video>, its fetch of
// the first early bytes): that fetch becomes this page's prefetch of the
// video (prefetchEarly), which answers the worker's reads and is handed to
// the engine on open, and playEarly keeps the running stream.
function adoptBegun(b) {
  let ih = '';
  try {
    ih = new URL(b.url).pathname.slice(STREAM_BASE.pathname.length).split('/')[0];
  } catch (e) {
    return;
  }
  if (!/^[0-9a-f]{40}$/.test(ih) || prefetched.has(ih)) return;
  earlySeed.set(ih, b.webSeed);
  expect(ih);
  // The piece length is not known yet: playEarly sets the unit.
  prefetchEarly(ih, b.webSeed, b.early, EARLY_CHUNK, b.video, b.url, b.response).begun = b;
}

if (typeof self !== 'undefined' && self.swarmtubeStart?.early) adoptBegun(self.swarmtubeStart.early);
