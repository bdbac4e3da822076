// player.js: plays a video in a <video> element, peer to peer through the
// WebAssembly engine (static/engine/) when it loads, otherwise straight from
// the pod's web seed. Either way the caller gets a session with the same
// stats() shape, so the watch page does not care which one runs.
//
//   stats() → {mode: 'p2p'|'http', peers, relayed (peers through a TURN
//              relay), downloadSpeed, uploadSpeed, fromPeers, fromPod,
//              progress (0..1), stored (bytes of this video kept in the
//              browser), note, reason (why not p2p)}
//   storage(), clearStorage() (p2p only) → {backend, bytes, budget, videos}:
//              the browser's store of videos' pieces, and emptying it
//
// When peer to peer cannot run, note is one plain sentence saying why
// (insecure origin, no WebRTC, no engine, no ICE path to any viewer) and
// the video still plays, from the web seed, starting by itself as the
// peer-to-peer player does.
import { el, safeURL, podHost } from './ui.js';

/** ENGINE_MODULE is the engine's loader (web/static/engine/, see its README). */
export const ENGINE_MODULE = '/static/engine/engine.js';

const ENGINE_TIMEOUT_MS = 12000;

/**
 * openPlayer puts a player for video into container and resolves to a
 * session {video, stats(), destroy(), mode}. It never rejects for a missing
 * engine: it falls back to HTTP and says why in stats().note.
 */
export async function openPlayer(video, container, { engine = true } = {}) {
  const media = el('video', { controls: true, playsinline: true, preload: 'auto', id: 'video-player' });
  media.setAttribute('aria-label', video.name || 'Video');
  container.replaceChildren(media);
  let from = video.local === false ? podHost(video.pod) : 'the pod';
  // With the origin down, the page plays from a mirror (issue 18): the
  // first source whose .torrent answers names the pod in the notes.
  const source = await firstSource(video);
  if (source) from = source.from;
  if (!engine) return openHTTP(video, media, `Playing from ${from}.`, 'peer-to-peer turned off');
  // What the browser lacks is known at once: say so and play, rather than
  // load an engine that cannot run.
  if (!window.isSecureContext) {
    return openHTTP(video, media,
      `Peer-to-peer needs a secure (https) connection to this pod, so this video plays straight from ${from}.`,
      'insecure origin: no Service Worker');
  }
  if (typeof RTCPeerConnection === 'undefined' || !('serviceWorker' in navigator)) {
    return openHTTP(video, media,
      `This browser cannot share video with other viewers (no WebRTC or Service Worker), so this video plays straight from ${from}.`,
      'no WebRTC or Service Worker');
  }
  let timedOut = false;
  try {
    return await withTimeout(openEngine(video, media, () => timedOut, from, source), ENGINE_TIMEOUT_MS,
      'the peer-to-peer engine took too long to start', () => { timedOut = true; });
  } catch (err) {
    console.warn('engine unavailable, playing from the web seed:', err);
    return openHTTP(video, media,
      `Peer-to-peer could not start in this browser, so this video plays straight from ${from}.`,
      String((err && err.message) || err));
  }
}

let enginePromise;
let engineModule;

// engineOpts names the engine's files: the layout gives them content
// versions, so the browser may keep them for good and still sees every
// deploy.
function engineOpts() {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || undefined;
  return { wasmUrl: meta('swarmtube-wasm'), execUrl: meta('swarmtube-wasm-exec') };
}

function importEngine() {
  engineModule ??= import(ENGINE_MODULE).catch((err) => {
    engineModule = undefined;
    throw err;
  });
  return engineModule;
}

/**
 * prepareEngine registers the engine's Service Worker (engine.js prepare)
 * so a page can do it before its own API calls; the wasm loads later, once
 * the video plays. Failures surface later in openPlayer.
 */
export function prepareEngine() {
  importEngine().then((mod) => mod.prepare()).catch(() => {});
}

/**
 * loadEngine resolves to the loaded engine (engine.js's Engine: wasm peer
 * plus Service Worker), once per page; it rejects when the engine cannot
 * start, and a later call tries again.
 */
export function loadEngine() {
  enginePromise ??= importEngine().then((mod) => mod.loadEngine(engineOpts())).catch((err) => {
    enginePromise = undefined;
    throw err;
  });
  return enginePromise;
}

// sources lists where a video's .torrent and file are: its origin, then
// each pod that mirrors it (video.mirrors, issue 18).
function sources(video) {
  const out = [];
  const add = (torrent, webSeed, pod) => {
    torrent = safeURL(torrent);
    if (torrent) out.push({ torrent, webSeed: safeURL(webSeed), from: pod ? podHost(pod) : 'the pod' });
  };
  add(video.torrent_url, video.webseed_url, video.local === false ? video.pod : '');
  for (const m of video.mirrors || []) add(m.torrent_url, m.webseed_url, m.pod);
  return out;
}

const SOURCE_TIMEOUT_MS = 5000;

// firstSource fetches the .torrent from each source in turn and resolves
// to the first that answers, with its bytes: {torrent, webSeed, from,
// bytes}, or null when none does.
async function firstSource(video) {
  for (const src of sources(video)) {
    try {
      const resp = await fetch(src.torrent, { signal: AbortSignal.timeout(SOURCE_TIMEOUT_MS) });
      if (!resp.ok) throw new Error(`status ${resp.status}`);
      return { ...src, bytes: new Uint8Array(await resp.arrayBuffer()) };
    } catch (err) {
      console.warn(`no .torrent from ${src.from}:`, err);
    }
  }
  return null;
}

async function openEngine(video, media, abandoned, from, source) {
  if (!source) throw new Error('no pod answers with this video’s .torrent');
  const torrentBytes = source.bytes;
  // Start the video at once: the Service Worker reads its first bytes from
  // the web seed while the engine compiles and starts (engine.js playEarly).
  const mod = await importEngine();
  const webSeed = source.webSeed;
  if (video.info_hash && webSeed) {
    await mod.playEarly(media, { infoHash: video.info_hash, webSeed, name: video.name || 'video' }, {}).catch((err) => {
      console.warn('early start failed, waiting for the engine:', err);
    });
  }
  const engine = await loadEngine();
  if (!engine.serviceWorker) throw new Error('no Service Worker: the page needs https or localhost');
  const torrent = await engine.open(await torrentBytes);
  if (abandoned()) { // the fallback already took over: do not leak the swarm
    torrent.close();
    throw new Error('the engine started too late');
  }
  torrent.play(media);
  let closed = false;
  return {
    mode: 'p2p',
    media,
    torrent,
    stats() {
      const s = torrent.stats();
      // The pod's own seeder is a peer too; its bytes count as the pod's.
      const podPeers = (s.peerList || []).filter((p) => p.server).length;
      const fromServers = s.bytesFromServers || 0;
      const viewers = Math.max(0, (s.peers || 0) - podPeers);
      const relayed = s.relayedPeers || 0;
      let note = `Peer to peer${podPeers ? ', with the pod’s seeder' : ''}: while this page is open you share what you have with other viewers.`;
      let reason;
      if (viewers === 0 && (s.unreachablePeers || 0) > 0) {
        // Viewers answered but every connection failed its ICE checks.
        note = `Other viewers are watching, but none can be reached from your network, so this video plays from ${from}.`;
        reason = 'no ICE path to any viewer';
      } else if (relayed > 0) {
        note += ` ${relayed === 1 ? 'One connection goes' : `${relayed} connections go`} through the pod’s relay (TURN), as no direct path was found.`;
      }
      return {
        mode: 'p2p',
        peers: viewers,
        relayed,
        reason,
        downloadSpeed: s.downloadRate || 0,
        uploadSpeed: s.uploadRate || 0,
        // Bytes from other viewers: what the pod did not have to send.
        fromPeers: Math.max(0, (s.bytesFromPeers || 0) - fromServers),
        fromPod: fromServers + (s.bytesFromWebSeed || 0),
        fromWebSeed: s.bytesFromWebSeed || 0,
        fromSeeder: fromServers,
        progress: s.pieces ? (s.piecesHave || 0) / s.pieces : 0,
        // This video's pieces kept in the browser's storage (OPFS/IndexedDB).
        stored: s.bytesPersisted || 0,
        note,
      };
    },
    // The browser's store of verified pieces (engine.js Engine.storage):
    // {backend, bytes, budget, videos}; clearStorage empties it.
    storage: () => engine.storage(),
    clearStorage: () => engine.clearStorage(),
    destroy() {
      if (closed) return;
      closed = true;
      torrent.close();
    },
  };
}

// openHTTP plays the web seed directly. The bytes from the pod are estimated
// from the buffered time ranges (the browser does not expose media transfer
// sizes), which is what the viewer has downloaded.
function openHTTP(video, media, note, reason) {
  // Every web seed, the origin's first: the browser tries each <source>
  // in turn until one plays.
  const seeds = [video.webseed_url, ...(video.mirrors || []).map((m) => m.webseed_url)].map(safeURL).filter(Boolean);
  if (!seeds.length) throw new Error('this video has no playable address');
  if (seeds.length === 1) media.src = seeds[0];
  else {
    media.replaceChildren(...seeds.map((src) => el('source', { src })));
    media.load();
  }
  // Start by itself as the peer-to-peer player does; a browser that
  // refuses autoplay leaves the controls to the viewer.
  media.play().catch(() => {});
  let last = 0;
  let lastAt = performance.now();
  const buffered = () => {
    const d = media.duration;
    if (!Number.isFinite(d) || d <= 0) return 0;
    let secs = 0;
    for (let i = 0; i < media.buffered.length; i++) secs += media.buffered.end(i) - media.buffered.start(i);
    return Math.min(1, secs / d);
  };
  return {
    mode: 'http',
    media,
    stats() {
      const progress = buffered();
      const fromPod = Math.round(progress * (video.size || 0));
      const now = performance.now();
      const rate = Math.max(0, ((fromPod - last) * 1000) / Math.max(1, now - lastAt));
      last = fromPod;
      lastAt = now;
      return { mode: 'http', peers: 0, downloadSpeed: rate, uploadSpeed: 0, fromPeers: 0, fromPod, fromWebSeed: fromPod, fromSeeder: 0, progress, note, reason };
    },
    destroy() { media.replaceChildren(); media.removeAttribute('src'); media.load(); },
  };
}

function withTimeout(p, ms, what, onTimeout) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, reject) => { t = setTimeout(() => { onTimeout(); reject(new Error(what)); }, ms); }),
  ]);
}
