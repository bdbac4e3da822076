// Swarmtube browser engine: loads the Go WebAssembly peer (client.wasm),
// registers the Service Worker that feeds <video> from it, and exposes a
// small API. See README.md next to this file for the contract.

const ENGINE_BASE = new URL('./', import.meta.url); // .../static/engine/
const STATIC_BASE = new URL('../', import.meta.url); // .../static/
const STREAM_BASE = new URL('stream/', ENGINE_BASE);
const READ_CHUNK = 1 << 20;

const MIME = { mp4: 'video/mp4', m4v: 'video/mp4', webm: 'video/webm', ogv: 'video/ogg', ogg: 'video/ogg', mkv: 'video/x-matroska' };

function mimeOf(name) {
  const ext = (name.split('.').pop() || '').toLowerCase();
  return MIME[ext] || 'application/octet-stream';
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.appendChild(s);
  });
}

let loading = null;

/**
 * loadEngine loads the engine once per page and resolves to an Engine.
 * opts: wasmUrl, execUrl (defaults next to /static/), serviceWorker
 * (default true), swScope (default '/': the pod serves sw.js with
 * Service-Worker-Allowed: /).
 */
export function loadEngine(opts = {}) {
  if (!loading) loading = load(opts);
  return loading;
}

async function load({
  wasmUrl = new URL('client.wasm', STATIC_BASE).href,
  execUrl = new URL('wasm_exec.js', STATIC_BASE).href,
  serviceWorker = true,
  swScope = '/',
} = {}) {
  const t0 = performance.now();
  const swReady = serviceWorker ? setupServiceWorker(swScope) : Promise.resolve(false);
  if (!globalThis.Go) await loadScript(execUrl);
  const go = new globalThis.Go();
  const ready = new Promise((resolve) => { globalThis.__swarmtubeReady = resolve; });
  let result;
  try {
    result = await WebAssembly.instantiateStreaming(fetch(wasmUrl), go.importObject);
  } catch (e) {
    // A server without the application/wasm type: compile from bytes.
    const buf = await (await fetch(wasmUrl)).arrayBuffer();
    result = await WebAssembly.instantiate(buf, go.importObject);
  }
  go.run(result.instance);
  const api = await ready;
  const startMs = performance.now() - t0;
  return new Engine(api, await swReady, startMs);
}

const handles = new Map(); // infoHash → wasm handle, for the Service Worker

async function setupServiceWorker(scope) {
  if (!('serviceWorker' in navigator)) return false;
  navigator.serviceWorker.onmessage = onWorkerMessage;
  try {
    await navigator.serviceWorker.register(new URL('sw.js', ENGINE_BASE).href, { scope });
  } catch (e) {
    console.warn('swarmtube: service worker registration failed', e);
    return false;
  }
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) => {
      navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true });
    });
  }
  return true;
}

// onWorkerMessage answers the Service Worker's reads for <video>.
function onWorkerMessage(ev) {
  const msg = ev.data;
  if (!msg || typeof msg !== 'object' || !String(msg.type).startsWith('swarmtube-')) return;
  const h = handles.get(msg.infoHash);
  const port = ev.ports[0];
  if (msg.type === 'swarmtube-close') {
    if (h) h.closeStream(msg.streamId);
    return;
  }
  if (!port) return;
  if (!h) {
    port.postMessage({ error: `torrent ${msg.infoHash} is not open in this page` });
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
   * trackers, iceServers, webSeed, logLevel).
   */
  async open(torrent, opts = {}) {
    let bytes = torrent;
    if (typeof torrent === 'string' || torrent instanceof URL) {
      const resp = await fetch(torrent);
      if (!resp.ok) throw new Error(`fetch ${torrent}: ${resp.status}`);
      bytes = new Uint8Array(await resp.arrayBuffer());
    }
    return this.#wrap(await this.api.open(bytes, opts));
  }

  /**
   * seedFile hashes a File in the engine (opts.onProgress(done, total)),
   * exactly as the pod will (faststart rewrite + torrentfile), and seeds it
   * at once. opts.title or opts.name set info.name; opts.trackers the
   * announce-list (default: this pod's WebSocket tracker).
   */
  async seedFile(file, opts = {}) {
    const trackers = opts.trackers || [defaultTracker()];
    return this.#wrap(await this.api.seedFile(file, { ...opts, trackers }));
  }

  /** hashBenchmark measures SHA-1 speed: {subtleMBps, goMBps}. */
  hashBenchmark(mib = 64) { return this.api.hashBenchmark(mib); }

  #wrap(h) {
    const t = new Torrent(h, this);
    handles.set(h.infoHash, h);
    return t;
  }
}

function defaultTracker() {
  const u = new URL('/tracker/socket', location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

// bufferAhead returns the seconds buffered after the playhead (the whole
// rest once the video has ended).
function bufferAhead(video) {
  if (video.ended) return 1e9;
  // Until the player itself thinks it can play through (it waits for that
  // before starting, and again after a stall), it is starving whatever it
  // holds.
  if (video.readyState < HTMLMediaElement.HAVE_ENOUGH_DATA) return 0;
  const t = video.currentTime;
  const b = video.buffered;
  for (let i = 0; i < b.length; i++) {
    if (b.start(i) <= t + 0.05 && t <= b.end(i)) return b.end(i) - t;
  }
  return 0;
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
   * the playback buffer (which decides how long peers get before the web
   * seed steps in).
   */
  play(video) {
    if (!this.engine.serviceWorker) throw new Error('swarmtube: no Service Worker controls this page');
    video.src = this.streamURL;
    clearInterval(this.bufferTimer);
    this.bufferTimer = setInterval(() => this.handle.setBufferAhead(bufferAhead(video)), 250);
    return video.play().catch(() => {}); // autoplay may be refused; the page shows controls
  }

  /** stats: peers, peerList, downloadRate, uploadRate, bytesFromPeers, bytesFromWebSeed, ... */
  stats() { return this.handle.stats(); }

  /** read reads ≤ maxLen bytes at offset (resolves empty at the end). */
  read(streamId, offset, maxLen) { return this.handle.read(streamId, offset, maxLen); }

  close() {
    clearInterval(this.bufferTimer);
    handles.delete(this.infoHash);
    this.handle.close();
  }
}
