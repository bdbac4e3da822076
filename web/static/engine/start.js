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
  // pickAuto is player.js pickAuto, the file Auto plays, for the start
  // below, which runs before any module (web's TestPickAuto holds both to
  // one table): the smallest file whose picture covers the player at its
  // size in device pixels, then, when throughput (bytes/s) is known, the
  // best of those whose bitrate fits in 80% of it, else the smallest.
  const pickAuto = (self.swarmtubePickAuto = (files, view, throughput, duration) => {
    if (files.length === 1) return files[0];
    const ref = files[0];
    const aspect = ref.width && ref.height ? ref.width / ref.height : 16 / 9;
    const shown = Math.min(view.width / aspect, view.height) * (view.dpr || 1);
    const need = aspect >= 1 ? shown : shown * aspect;
    let i = files.length - 1;
    while (i > 0 && files[i].resolution && files[i].resolution < need * 0.9) i--;
    if (throughput > 0 && duration > 0) {
      while (i < files.length - 1 && files[i].size / duration > 0.8 * throughput) i++;
    }
    return files[i];
  });
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
  // A watch page's first visit: the pod names the streams of the video's
  // files (<meta name="swarmtube-start">, web's watch.go), and the <video>
  // gets the one Auto plays as soon as the parser reaches the element
  // (its box is laid out by then), as a plain <video src> would, not when
  // the page's modules run, which Chromium does only after the page's
  // first paint (150-200 ms later on the pod's watch page). What engine.js
  // playEarly does on a first visit, begun here: the page's own fetch of
  // the first bytes through the HTTP cache (which answers the player's
  // first request from it), the element in CORS mode, then the source;
  // engine.js takes it over (start.early) and player.js plays that file.
  // Until engine.js runs, the worker's messages (its reads for the stream,
  // once it controls the page) wait in start.messages.
  const files = [...document.querySelectorAll('meta[name="swarmtube-start"]')].map((m) => ({
    url: new URL(m.content, location.href), resolution: Number(m.dataset.resolution) || 0,
    width: Number(m.dataset.width) || 0, height: Number(m.dataset.height) || 0,
    size: Number(m.dataset.size) || 0, duration: Number(m.dataset.duration) || 0,
  }));
  if (files.length === 0 || start.controlledAtStart || typeof RTCPeerConnection === 'undefined') return;
  navigator.serviceWorker.onmessage = (ev) => { (start.messages ??= []).push(ev); };
  const begin = (video) => {
    // The box's size costs a layout of the page parsed so far: only a
    // choice between files needs it.
    const r = files.length > 1 ? (video.parentElement || video).getBoundingClientRect() : {};
    const mbps = navigator.connection && navigator.connection.downlink;
    const file = pickAuto(files, { width: r.width || 640, height: r.height || 360, dpr: self.devicePixelRatio || 1 },
      mbps > 0 ? (mbps * 1e6) / 8 : 0, files[0].duration);
    const url = file.url;
    const early = Number(url.searchParams.get('early'));
    let seed = null;
    try { seed = new URL(url.searchParams.get('webseed') || '', location.href); } catch (e) { /* none */ }
    if (!(early > 0) || !seed || seed.origin !== location.origin) return;
    // High priority: over HTTP/1.1 the page's modules and images (low
    // on the watch page, head.html) would hold the pod's six connections.
    start.early = {
      url: url.href, video, early, webSeed: seed.href, at: performance.now(),
      response: fetch(url.href, { headers: { Range: `bytes=0-${early - 1}` }, cache: 'force-cache', priority: 'high' }),
    };
    video.crossOrigin = 'anonymous';
    video.preload = 'auto';
    video.src = url.href;
    // firstFrame: the page's own work waits for it (watch.js), because the
    // player's data reaches it through the main thread, and until its first
    // frame every task there (the page's rendering, its API calls, the
    // engine's adoption of this start) delayed it: the video playing, or
    // its first frame decoded when the browser refuses to play it yet, or
    // 1.5 s at most.
    start.firstFrame = new Promise((resolve) => {
      video.addEventListener('playing', resolve, { once: true });
      video.play().catch(() => (video.readyState >= 2 ? resolve() : video.addEventListener('loadeddata', resolve, { once: true })));
      setTimeout(resolve, 1500);
    });
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
