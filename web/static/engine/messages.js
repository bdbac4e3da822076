// messages.js: the types of the messages between a page's engine
// (engine.js) and its Service Worker (sw.js), defined once. It is a classic
// script so that the worker, registered as a classic worker, can load it
// with importScripts; engine.js imports it for its effect, the same global.
// web's TestWorkerMessagesDefinedOnce keeps the literals out of both files.
self.SwarmtubeMessages = Object.freeze({
  READ: 'swarmtube-read', // worker → page: read a range for <video> (reply on the port)
  EARLY: 'swarmtube-early', // worker → page: the page's prefetched bytes of a range, if any
  WEBSEED: 'swarmtube-webseed', // worker → page: bytes the worker read from the web seed
  CLOSE: 'swarmtube-close', // worker → page: a <video> stream ended
  OPENED: 'swarmtube-opened', // page → worker: the engine opened this torrent
  CLOSED: 'swarmtube-closed', // page → worker: the engine closed it
  CLAIM: 'swarmtube-claim', // page → worker: control me (a page loaded past the worker, e.g. a hard reload)
  MARKS: 'swarmtube-marks', // page → worker: when the worker's start-up steps happened (reply on the port)
});
