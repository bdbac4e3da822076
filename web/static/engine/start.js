// start.js: registers the engine's Service Worker as early as a page can.
// Every page of the pod inlines it at the top of its head (web/templates/
// head.html, allowed by its hash in the Content-Security-Policy), so the
// registration, the worker's install and activation run while the page
// parses and loads its modules, instead of after them: on a first visit
// the <video> can use the stream only once the worker controls the page
// (BENCHMARKS.md, start-up). A viewer who arrives from another page of the
// pod finds the worker installed. engine.js takes the registration over
// (self.swarmtubeStart). A classic script with no imports: it runs where
// it stands, before the module graph is fetched. Same script URL and scope
// as engine.js, which registers again harmlessly (the browser joins equal
// registrations).
(() => {
  if (!self.isSecureContext || !('serviceWorker' in navigator)) return;
  // controlled: whether a worker controlled the page from its start (any
  // visit after the first): engine.js looks for stored videos only then.
  const start = (self.swarmtubeStart = { register: performance.now(), controlledAtStart: !!navigator.serviceWorker.controller });
  navigator.serviceWorker.addEventListener('controllerchange', () => { start.controlled = performance.now(); }, { once: true });
  // A return visit's watch page first asks OPFS whether the video's start
  // is stored, and the browser's first storage call of a page takes tens
  // of ms: begun here, it runs while the modules load. Not on a first
  // visit, where storage waits for the worker's registration anyway.
  if (start.controlledAtStart && navigator.storage && navigator.storage.getDirectory) {
    start.storage = navigator.storage.getDirectory().catch(() => null);
  }
  start.registration = navigator.serviceWorker.register('/static/engine/sw.js', { scope: '/' }).then(
    (reg) => { start.registered = performance.now(); return reg; },
    () => null, // engine.js registers again and reports why it cannot
  );
  // A watch page's first visit: the pod names the stream of the video's
  // one file (<meta name="swarmtube-start">, web's watch.go), and the
  // <video> gets it as soon as the parser reaches the element, as a plain
  // <video src> would, not when the page's modules run, which Chromium
  // does only after the page's first paint (150-200 ms later on the pod's
  // watch page). What engine.js playEarly does on a first visit, begun
  // here: the page's own fetch of the first bytes through the HTTP cache
  // (which answers the player's first request from it), the element in
  // CORS mode, then the source; engine.js takes it over (start.early).
  // Until it runs, the worker's messages (its reads for the stream, once
  // it controls the page) wait in start.messages.
  const meta = document.querySelector('meta[name="swarmtube-start"]');
  if (!meta || start.controlledAtStart || typeof RTCPeerConnection === 'undefined') return;
  const url = new URL(meta.content, location.href);
  const early = Number(url.searchParams.get('early'));
  let seed = null;
  try { seed = new URL(url.searchParams.get('webseed') || '', location.href); } catch (e) { /* no web seed */ }
  if (!(early > 0) || !seed || seed.origin !== location.origin) return;
  navigator.serviceWorker.onmessage = (ev) => { (start.messages ??= []).push(ev); };
  const begin = (video) => {
    start.early = {
      url: url.href, video, early, webSeed: seed.href, at: performance.now(),
      response: fetch(url.href, { headers: { Range: `bytes=0-${early - 1}` }, cache: 'force-cache' }),
    };
    video.crossOrigin = 'anonymous';
    video.preload = 'auto';
    video.src = url.href;
    video.play().catch(() => {});
  };
  const look = () => {
    const video = document.getElementById('video-player');
    if (!video) return false;
    begin(video);
    return true;
  };
  const seen = new MutationObserver(() => { if (look()) seen.disconnect(); });
  seen.observe(document, { childList: true, subtree: true });
  document.addEventListener('DOMContentLoaded', () => seen.disconnect(), { once: true });
})();
