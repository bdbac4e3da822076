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
})();
