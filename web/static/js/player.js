// player.js: plays a video in a <video> element, peer to peer through the
// WebAssembly engine (static/engine/) when it loads, otherwise straight from
// the pod's web seed. Either way the caller gets a session with the same
// stats() shape, so the watch page does not care which one runs.
//
//   stats() → {mode: 'p2p'|'http', peers, relayed (peers through a TURN
//              relay), downloadSpeed, uploadSpeed, fromPeers, fromPod
//              (= fromOrigin + fromMirrors + fromSeeder: the origin's web
//              seed, its mirrors' web seeds, and pods' seeders, origin's or
//              mirrors', over WebRTC), webSeeds (per web seed: {url,
//              origin, bytes, rate, latencyMs, failures}), progress (0..1),
//              stored (bytes of this video kept in the browser), note,
//              reason (why not p2p)}
//   storage(), clearStorage() (p2p only) → {backend, bytes, budget, videos, persisted}:
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
  // The watch page's HTML carries the <video> (preload="none", so it costs
  // nothing until played or taken over here), with the preview as poster;
  // other pages get one made. The preview is a representative frame, not
  // the first one (often black), shown until the video plays.
  let media = container.querySelector('video#video-player');
  if (!media) {
    media = el('video', { controls: true, playsinline: true, id: 'video-player', poster: (video.preview_url && safeURL(video.preview_url)) || undefined });
    media.setAttribute('aria-label', video.name || 'Video');
    container.replaceChildren(media);
  }
  // Its src is the origin's web seed, for a page without scripts. Here the
  // player picks the source (the engine's stream, a mirror when the origin
  // is down): preload "auto" on that src would fetch the file from the
  // origin meanwhile, bytes no counter sees and the origin pays for
  // (most of its share in TestMirrorLoadSplit).
  // The page's head script may have started it already, on the stream
  // of the file Auto plays (engine/start.js, the same pickAuto as here,
  // when the box had its size): that start and that file are kept.
  const files = videoFiles(video);
  const begun = self.swarmtubeStart?.early?.video === media ? files.find((f) => f.info_hash && self.swarmtubeStart.early.url.includes(`/stream/${f.info_hash}/`)) : null;
  if (media.getAttribute('src') && !begun) {
    media.removeAttribute('src');
    media.load();
  }
  media.preload = 'auto';
  const first = begun || pickAuto(files, viewSize(container), initialThroughput(), video.duration);
  const session = await openFile(video, first, media, engine);
  return withQuality(session, video, files, first, container);
}

// openFile plays one of video's files (video.files) in media.
async function openFile(video, file, media, engine) {
  let from = video.local === false ? podHost(video.pod) : 'the pod';
  // A file of this pod starts playing at once, while the page looks for
  // its .torrent (startEarly).
  const early = engine ? startEarly(video, file, media) : null;
  // With the origin down, the page plays from a mirror (issue 18): the
  // first source whose .torrent answers names the pod in the notes.
  const source = await firstSource(video, file);
  if (source) from = source.from;
  if (!engine) return openHTTP(video, file, media, `Playing from ${from}.`, 'peer-to-peer turned off');
  // What the browser lacks is known at once: say so and play, rather than
  // load an engine that cannot run.
  if (!window.isSecureContext) {
    return openHTTP(video, file, media,
      `Peer-to-peer needs a secure (https) connection to this pod, so this video plays straight from ${from}.`,
      'insecure origin: no Service Worker');
  }
  if (typeof RTCPeerConnection === 'undefined' || !('serviceWorker' in navigator)) {
    return openHTTP(video, file, media,
      `This browser cannot share video with other viewers (no WebRTC or Service Worker), so this video plays straight from ${from}.`,
      'no WebRTC or Service Worker');
  }
  let late = false;
  const starting = openEngine(video, file, media, from, source, early, () => late);
  try {
    const session = await withTimeout(starting, ENGINE_TIMEOUT_MS,
      'the peer-to-peer engine took too long to start', () => { late = true; });
    session.torrent.play(media);
    return session;
  } catch (err) {
    late = true;
    console.warn('engine not started, playing from the web seed meanwhile:', err);
    return upgrading(video, file, media, from, source, starting, err);
  }
}

// ENGINE_RETRY_MS are the waits before each new start of the engine after
// a failed one (upgrading); after the last failure the page stays on the
// web seed.
const ENGINE_RETRY_MS = [1000, 4000, 15000];

// upgrading plays file from the web seed (openHTTP) while the engine's
// start is late or failed, and keeps starting it: first the start under
// way (starting), then, after each failure, again after ENGINE_RETRY_MS.
// Once the engine has the torrent, the player moves to its stream at the
// same place and the session is peer to peer from then on. A viewer on a
// slow or flaky link (a script that did not arrive once, a wasm that took
// longer than ENGINE_TIMEOUT_MS) thus loses the first seconds' sharing,
// not the whole visit's; stats().note says which of the two it is.
function upgrading(video, file, media, from, source, starting, firstErr) {
  const fallback = openHTTP(video, file, media, '', '');
  let current = fallback;
  let note = `Peer-to-peer has not started yet, so this video plays straight from ${from} meanwhile.`;
  let reason = errText(firstErr);
  let closed = false;
  const session = {
    get mode() { return current.mode; },
    media,
    get torrent() { return current.torrent; },
    switchTo(next) {
      file = next;
      return current.switchTo(next);
    },
    stats() {
      const s = current.stats();
      return current === fallback ? { ...s, note, reason } : s;
    },
    // The storage section stays hidden (backend "none") until the engine runs.
    storage: () => (current.storage ? current.storage() : Promise.resolve({ backend: 'none' })),
    clearStorage: () => (current.clearStorage ? current.clearStorage() : Promise.resolve({ backend: 'none' })),
    destroy() {
      closed = true;
      current.destroy();
    },
  };
  (async () => {
    let attempt = starting;
    for (let i = 0; ; i++) {
      try {
        const p2p = await attempt;
        const opened = file; // switchTo may have moved the fallback meanwhile
        if (closed) {
          p2p.destroy();
          return;
        }
        await keepPlace(media, () => {
          media.replaceChildren(); // the fallback's <source>s, if any
          p2p.torrent.play(media);
        });
        current = p2p;
        console.info(`peer-to-peer started ${i === 0 ? 'late' : `at attempt ${i + 1}`}: the player moved to the engine's stream`);
        if (file !== opened) await p2p.switchTo(file);
        return;
      } catch (err) {
        console.warn(`engine start ${i + 1} failed:`, err);
        reason = errText(err);
        if (closed) return;
        if (i >= ENGINE_RETRY_MS.length) {
          note = `Peer-to-peer could not start in this browser, so this video plays straight from ${from}.`;
          return;
        }
        await new Promise((r) => { setTimeout(r, ENGINE_RETRY_MS[i]); });
        if (closed) return;
        const f = file;
        attempt = (async () => openEngine(video, f, media, from, (f === file && source) || await firstSource(video, f), null, () => true))();
      }
    }
  })();
  return session;
}

function errText(err) {
  return String((err && err.message) || err);
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

// importFailures counts failed imports of the engine's module: the browser
// keeps a failed module fetch in its module map, so the next import
// names it afresh (a query; nothing ran of the failed one).
let importFailures = 0;

function importEngine() {
  engineModule ??= import(importFailures ? `${ENGINE_MODULE}?retry=${importFailures}` : ENGINE_MODULE).catch((err) => {
    engineModule = undefined;
    importFailures++;
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

// sources lists where one of a video's files (its .torrent and bytes)
// is: its origin, then each pod that mirrors it (video.mirrors, issue 18:
// a mirror holds the best file, and the lower resolutions in its files).
function sources(video, file) {
  const out = [];
  const add = (torrent, webSeed, pod) => {
    torrent = safeURL(torrent);
    if (torrent) out.push({ torrent, webSeed: safeURL(webSeed), from: pod ? podHost(pod) : 'the pod' });
  };
  add(file.torrent_url, file.webseed_url, video.local === false ? video.pod : '');
  for (const m of video.mirrors || []) {
    if (file.info_hash === video.info_hash) {
      add(m.torrent_url, m.webseed_url, m.pod);
      continue;
    }
    const f = (m.files || []).find((x) => x.info_hash === file.info_hash);
    if (f) add(f.torrent_url, f.webseed_url, m.pod);
  }
  return out;
}

// originOf is the URL of the video's origin pod (video.pod; for a video
// object without it, its file's web seed's origin): web seeds under it are
// the origin's, the others mirrors'.
function originOf(video, file) {
  try {
    return new URL(video.pod || file.webseed_url, location.href).origin;
  } catch {
    return '';
  }
}

// isOrigin reports whether url (a web seed) is the origin pod's.
function isOrigin(url, video, file) {
  try {
    return !!url && new URL(url, location.href).origin === originOf(video, file);
  } catch {
    return false;
  }
}

const SOURCE_TIMEOUT_MS = 5000;

// rotate returns list starting at a random element, the others following
// in order.
function rotate(list) {
  const k = Math.floor(Math.random() * list.length);
  return [...list.slice(k), ...list.slice(0, k)];
}

// firstSource fetches the .torrent from each source in turn and resolves
// to the first that answers, with its bytes: {torrent, webSeed, from,
// bytes}, or null when none does.
async function firstSource(video, file) {
  for (const [i, src] of sources(video, file).entries()) {
    try {
      const resp = await fetch(src.torrent, { signal: AbortSignal.timeout(SOURCE_TIMEOUT_MS) });
      if (!resp.ok) throw new Error(`status ${resp.status}`);
      return { ...src, first: i === 0, bytes: new Uint8Array(await resp.arrayBuffer()) };
    } catch (err) {
      console.warn(`no .torrent from ${src.from}:`, err);
    }
  }
  return null;
}

// startEarly starts media on file before the page has its .torrent, when
// this pod serves the file (its web seed is this page's origin: a local
// video) and the browser can run the engine: engine.js playEarly, whose
// first request goes to the network at once on a first visit. Resolves to
// playEarly's answer (false when it could not start); null when it does
// not apply.
function startEarly(video, file, media) {
  const webSeed = safeURL(file.webseed_url);
  if (!file.info_hash || !webSeed || !window.isSecureContext || !('serviceWorker' in navigator) ||
    typeof RTCPeerConnection === 'undefined' || new URL(webSeed, location.href).origin !== location.origin) return null;
  const meta = { length: file.size, duration: video.duration, pieceLength: file.piece_length };
  return importEngine().then((mod) => mod.playEarly(media, { infoHash: file.info_hash, webSeed, name: video.name || 'video', ...meta }, {}))
    .catch((err) => {
      console.warn('early start failed, waiting for the engine:', err);
      return false;
    });
}

// openEngine starts the engine and opens file's torrent in it, and
// resolves to a peer-to-peer session; the caller plays it
// (session.torrent.play(media)). Until then it may start media early
// (engine.js playEarly), unless late() says a fallback plays it already.
async function openEngine(video, file, media, from, source, early, late) {
  if (!source) throw new Error('no pod answers with this video’s .torrent');
  const torrentBytes = source.bytes;
  // Start the video at once: the Service Worker reads its first bytes from
  // the web seed while the engine compiles and starts (engine.js playEarly).
  const mod = await importEngine();
  // The early bytes come from any web seed when the origin answered (the
  // load spreads over its mirrors), else from the mirror that did.
  const webSeed = source.first ? rotate(sources(video, file).map((src) => src.webSeed).filter(Boolean))[0] : source.webSeed;
  if (early) {
    await early;
  } else if (file.info_hash && webSeed && !late()) {
    // Size, duration and piece length size the early fetch to a second of media (earlyBudget).
    const meta = { length: file.size, duration: video.duration, pieceLength: file.piece_length };
    await mod.playEarly(media, { infoHash: file.info_hash, webSeed, name: video.name || 'video', ...meta }, {}).catch((err) => {
      console.warn('early start failed, waiting for the engine:', err);
    });
  }
  const engine = await loadEngine();
  if (!engine.serviceWorker) throw new Error('no Service Worker: the page needs https or localhost');
  // The page's pod's tracker is announced to first (the engine's
  // default); origin tells the origin's web seed from its mirrors'.
  const opts = { origin: originOf(video, file) };
  let torrent = await engine.open(await torrentBytes, opts);
  let closed = false;
  return {
    mode: 'p2p',
    media,
    get torrent() { return torrent; },
    // switchTo plays another file of the video, in its own swarm: the
    // engine opens its torrent, the player moves to its stream, and the
    // old swarm is left.
    async switchTo(next) {
      const src = await firstSource(video, next);
      if (!src) throw new Error('no pod answers with this file’s .torrent');
      const opened = await engine.open(src.bytes, { origin: originOf(video, next) });
      if (closed) {
        opened.close();
        return;
      }
      const old = torrent;
      torrent = opened;
      await keepPlace(media, () => opened.play(media));
      old.close();
    },
    stats() {
      const s = torrent.stats();
      // The pod's own seeder is a peer too; its bytes count as the pod's.
      const podPeers = (s.peerList || []).filter((p) => p.server).length;
      const fromServers = s.bytesFromServers || 0;
      const viewers = Math.max(0, (s.peers || 0) - podPeers);
      const relayed = s.relayedPeers || 0;
      // A seeder may be the origin's or a mirror's (issue 18).
      const seeders = podPeers === 1 ? ', with a pod’s seeder' : `, with ${podPeers} pods’ seeders`;
      let note = `Peer to peer${podPeers ? seeders : ''}: while this page is open you share what you have with other viewers.`;
      let reason;
      if (viewers === 0 && (s.unreachablePeers || 0) > 0) {
        // Viewers answered but every connection failed its ICE checks.
        note = `Other viewers are watching, but none can be reached from your network, so this video plays from ${from}.`;
        reason = 'no ICE path to any viewer';
      } else if (relayed > 0) {
        note += ` ${relayed === 1 ? 'One connection goes' : `${relayed} connections go`} through the pod’s relay (TURN), as no direct path was found.`;
      }
      // Web seed bytes by pod: the origin's, its mirrors' (issue 18).
      const fromOrigin = s.bytesFromOrigin || 0;
      const fromMirrors = s.bytesFromMirrors || 0;
      return {
        mode: 'p2p',
        peers: viewers,
        relayed,
        reason,
        downloadSpeed: s.downloadRate || 0,
        uploadSpeed: s.uploadRate || 0,
        // Bytes from other viewers: what the pods did not have to send.
        fromPeers: Math.max(0, (s.bytesFromPeers || 0) - fromServers),
        fromPod: fromServers + fromOrigin + fromMirrors,
        fromOrigin,
        fromMirrors,
        fromSeeder: fromServers,
        webSeeds: s.webSeeds || [],
        progress: s.pieces ? (s.piecesHave || 0) / s.pieces : 0,
        // This video's pieces kept in the browser's storage (OPFS/IndexedDB).
        stored: s.bytesPersisted || 0,
        note,
      };
    },
    // The browser's store of verified pieces (engine.js Engine.storage):
    // {backend, bytes, budget, videos, persisted}; clearStorage empties it.
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
function openHTTP(video, file, media, note, reason) {
  // Every web seed of the file, from a random one (viewers spread over
  // the origin and its mirrors): the browser tries each <source> in turn
  // until one plays.
  const point = (f) => {
    const seeds = rotate(sources(video, f).map((src) => src.webSeed).filter(Boolean));
    if (!seeds.length) throw new Error('this video has no playable address');
    if (seeds.length === 1) {
      media.replaceChildren();
      media.src = seeds[0];
    } else {
      media.removeAttribute('src');
      media.replaceChildren(...seeds.map((src) => el('source', { src })));
      media.load();
    }
  };
  point(file);
  let size = file.size || video.size || 0;
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
    async switchTo(next) {
      await keepPlace(media, () => point(next));
      file = next;
      size = next.size || 0;
      last = 0;
    },
    stats() {
      const progress = buffered();
      const fromPod = Math.round(progress * size);
      const now = performance.now();
      const rate = Math.max(0, ((fromPod - last) * 1000) / Math.max(1, now - lastAt));
      last = fromPod;
      lastAt = now;
      // The browser plays one <source> at a time: all of it from there.
      const origin = isOrigin(media.currentSrc, video, file);
      return {
        mode: 'http', peers: 0, downloadSpeed: rate, uploadSpeed: 0, fromPeers: 0, fromPod,
        fromOrigin: origin ? fromPod : 0, fromMirrors: origin ? 0 : fromPod, fromSeeder: 0,
        webSeeds: media.currentSrc ? [{ url: media.currentSrc, origin, bytes: fromPod }] : [], progress, note, reason,
      };
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

// ---- Resolutions -------------------------------------------------------
//
// A video comes in several files (video.files, best first: its resolution
// ladder), each a torrent of its own. "Auto" picks one from the player's
// size in device pixels and the measured throughput; the viewer may pick
// one instead. Switching keeps the playback time and whether it plays.

/**
 * videoFiles returns video.files, or for a video from a pod without them
 * a single file made of the top-level fields.
 */
export function videoFiles(video) {
  if (Array.isArray(video.files) && video.files.length) return video.files;
  return [{
    resolution: Math.min(video.width || 0, video.height || 0), width: video.width || 0, height: video.height || 0,
    size: video.size || 0, info_hash: video.info_hash, magnet: video.magnet, torrent_url: video.torrent_url, webseed_url: video.webseed_url,
  }];
}

/**
 * pickAuto picks the file Auto plays: the smallest whose picture covers
 * the player at its size in device pixels ({width, height, dpr}), then,
 * when throughput (bytes/s, 0 when unknown) is known, the best of those
 * whose bitrate (size / duration) fits in 80% of it, else the smallest.
 */
export function pickAuto(files, view, throughput, duration) {
  if (files.length === 1) return files[0];
  // The picture's displayed height: the video fits the box, keeping its
  // aspect ratio (files share it).
  const ref = files[0];
  const aspect = ref.width && ref.height ? ref.width / ref.height : 16 / 9;
  const shown = Math.min(view.width / aspect, view.height) * (view.dpr || 1);
  const need = aspect >= 1 ? shown : shown * aspect; // the short side
  let i = files.length - 1;
  while (i > 0 && files[i].resolution && files[i].resolution < need * 0.9) i--;
  if (throughput > 0 && duration > 0) {
    while (i < files.length - 1 && files[i].size / duration > 0.8 * throughput) i++;
  }
  return files[i];
}

function viewSize(box) {
  const r = box.getBoundingClientRect();
  return { width: r.width || 640, height: r.height || 360, dpr: window.devicePixelRatio || 1 };
}

// initialThroughput is the browser's estimate of the connection (bytes/s,
// navigator.connection.downlink in Mbit/s, Chromium), 0 when unknown.
function initialThroughput() {
  const mbps = navigator.connection && navigator.connection.downlink;
  return mbps > 0 ? (mbps * 1e6) / 8 : 0;
}

// keepPlace runs change, which points media at another file of the same
// video, and puts back the playback time and state once the new file's
// metadata is in: a paused video stays paused where it was.
function keepPlace(media, change) {
  const at = media.currentTime;
  const paused = media.paused;
  const rate = media.playbackRate;
  return new Promise((resolve) => {
    const done = () => {
      media.removeEventListener('loadedmetadata', restore);
      media.removeEventListener('error', done);
      resolve();
    };
    const restore = () => {
      media.currentTime = at;
      media.playbackRate = rate;
      if (paused) media.pause();
      else media.play().catch(() => {});
      done();
    };
    media.addEventListener('loadedmetadata', restore);
    media.addEventListener('error', done);
    change();
    if (paused) media.pause(); // torrent.play starts it: keep the viewer's choice
  });
}

// AUTO_EVERY_MS is how often Auto looks again; AUTO_HOLD_MS the least time
// between two switches it makes.
const AUTO_EVERY_MS = 2000;
const AUTO_HOLD_MS = 15000;

/**
 * withQuality adds to a player session the choice of resolution:
 * files, quality ('auto' or a resolution), file (the one playing),
 * setQuality(q) → Promise, and onQuality(fn), called after each change.
 * In Auto it looks again every 2 s at the player's size and at the
 * download rate measured while the player wants data (buffer under 10 s),
 * and after stalls; it switches at most every 15 s.
 */
function withQuality(session, video, files, first, container) {
  const media = session.media;
  let quality = 'auto';
  let file = first;
  let switching = Promise.resolve();
  let lastSwitch = performance.now();
  let throughput = initialThroughput();
  let stalls = 0;
  const listeners = [];
  const duration = () => (Number.isFinite(media.duration) && media.duration > 0 ? media.duration : video.duration || 0);
  const go = (next) => {
    if (next === file || !session.switchTo) return switching;
    const prev = file;
    file = next;
    lastSwitch = performance.now();
    stalls = 0;
    switching = switching.then(() => session.switchTo(next)).catch((err) => {
      // The old file plays on (its .torrent or web seed did not answer).
      console.warn('switching resolution:', err);
      if (file === next) file = prev;
    }).then(() => listeners.forEach((fn) => fn(quality, file)));
    return switching;
  };
  const onWaiting = () => { if (!media.seeking && media.currentTime > 0) stalls++; };
  media.addEventListener('waiting', onWaiting);
  const timer = setInterval(() => {
    if (!media.isConnected) {
      clearInterval(timer);
      return;
    }
    let s;
    try {
      s = session.stats();
    } catch {
      return;
    }
    const ahead = bufferedAhead(media);
    if (ahead < 10 && s.downloadSpeed > 0) throughput = throughput ? 0.7 * throughput + 0.3 * s.downloadSpeed : s.downloadSpeed;
    if (quality !== 'auto' || performance.now() - lastSwitch < AUTO_HOLD_MS) return;
    const want = pickAuto(files, viewSize(container), throughput, duration());
    const wi = files.indexOf(want);
    const ci = files.indexOf(file);
    // Down when the player stalls or is starving; up only with a comfortable buffer.
    if (wi > ci && (stalls > 0 || ahead < 2)) go(want);
    else if (wi < ci && ahead >= 10) go(want);
  }, AUTO_EVERY_MS);
  const destroy = session.destroy.bind(session);
  Object.defineProperties(session, {
    quality: { get: () => quality },
    file: { get: () => file },
  });
  return Object.assign(session, {
    files,
    /** setQuality plays a resolution ('auto', or a number among files' resolutions). */
    setQuality(q) {
      quality = q === 'auto' ? 'auto' : Number(q);
      const next = quality === 'auto'
        ? pickAuto(files, viewSize(container), throughput, duration())
        : files.find((f) => f.resolution === quality) || file;
      if (next === file) listeners.forEach((fn) => fn(quality, file));
      return go(next);
    },
    onQuality(fn) { listeners.push(fn); },
    destroy() {
      clearInterval(timer);
      media.removeEventListener('waiting', onWaiting);
      destroy();
    },
  });
}

// bufferedAhead is the seconds buffered after the playhead.
function bufferedAhead(media) {
  const t = media.currentTime;
  const b = media.buffered;
  for (let i = 0; i < b.length; i++) {
    if (b.start(i) <= t + 0.05 && t <= b.end(i)) return b.end(i) - t;
  }
  return 0;
}
