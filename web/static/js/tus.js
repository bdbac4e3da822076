// tus.js: a small client for resumable uploads, tus 1.0.0 core protocol
// (https://tus.io/protocols/resumable-upload): POST creates an upload,
// PATCH sends bytes from an offset, HEAD tells the offset after a failure.
//
// The file goes up in chunks (8 MiB by default). A failed chunk is retried
// after growing delays, first asking the server where it stands, so a
// flaky network costs at most one chunk. The upload's URL is remembered in
// localStorage under the file's identity (name, size, last modified and a
// SHA-256 of its first MiB; not the form's fields), so choosing the same
// file again after a reload resumes where it stopped, whatever was typed.
// cancel() ends an upload for good (tus termination: DELETE).
//
// Events (on the TusUpload, an EventTarget):
//   progress  detail {loaded, total}   bytes the server holds, plus the chunk in flight
//   retry     detail {attempt, delay, error}
//   resume    detail {offset}         an earlier upload of this file was found

import { ApiError } from './api.js';

const TUS_VERSION = '1.0.0';
const STORAGE_PREFIX = 'swarmtube.tus.';

/** TusUpload sends one File (or Blob with a name) to a tus endpoint. */
export class TusUpload extends EventTarget {
  #controller = null;
  #key = '';

  /**
   * @param {File} file
   * @param {object} opts
   * @param {string} opts.endpoint       tus creation URL
   * @param {Object<string,string>} [opts.metadata]  Upload-Metadata pairs
   * @param {number} [opts.chunkSize]    bytes per PATCH
   * @param {number[]} [opts.retryDelays] ms to wait before each retry in a row
   * @param {Storage|null} [opts.storage] where upload URLs are remembered
   */
  constructor(file, { endpoint, metadata = {}, chunkSize = 8 << 20, retryDelays = [0, 1000, 3000, 5000, 10000, 20000], storage } = {}) {
    super();
    if (!endpoint) throw new TypeError('tus: endpoint required');
    if (!(chunkSize > 0)) throw new TypeError('tus: chunkSize must be positive');
    this.file = file;
    this.endpoint = new URL(endpoint, location.href).href;
    this.metadata = metadata;
    this.chunkSize = chunkSize;
    this.retryDelays = retryDelays;
    this.storage = storage === undefined ? safeLocalStorage() : storage;
    /** The upload's URL once created (resumable with HEAD/PATCH). */
    this.url = null;
    /** Bytes the server has acknowledged. */
    this.offset = 0;
  }

  /**
   * fingerprint resolves to the storage key of this file across page
   * loads: its name, size, last modified time and the SHA-256 of its first
   * MiB (where SubtleCrypto is available, that is in secure contexts), so
   * two files that share a name and size are not mixed up.
   */
  async fingerprint() {
    if (!this.#key) {
      const f = this.file;
      let head = '';
      try {
        const digest = await crypto.subtle.digest('SHA-256', await f.slice(0, 1 << 20).arrayBuffer());
        head = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
      } catch { /* no SubtleCrypto here: name, size and time only */ }
      this.#key = STORAGE_PREFIX + JSON.stringify([this.endpoint, f.name, f.size, f.lastModified || 0, head]);
    }
    return this.#key;
  }

  /** uploadID is the last path segment of the upload URL. */
  get uploadID() {
    return this.url ? decodeURIComponent(new URL(this.url).pathname.replace(/\/+$/, '').split('/').pop()) : '';
  }

  /**
   * start uploads everything not yet on the server and resolves to the
   * upload URL. It rejects with an ApiError when the server refuses, when
   * retries run out, or with an AbortError after abort().
   */
  async start() {
    if (this.#controller) throw new Error('tus: upload already running');
    const controller = new AbortController();
    this.#controller = controller;
    const signal = controller.signal;
    let attempt = 0;
    let needSync = false; // after a failure the server's offset is the truth
    try {
      for (;;) {
        try {
          if (!this.url) {
            await this.#resumeOrCreate(signal);
          } else if (needSync) {
            this.offset = await this.#head(signal);
          }
          needSync = false;
          this.#progress(this.offset);
          while (this.offset < this.file.size) {
            const end = Math.min(this.offset + this.chunkSize, this.file.size);
            const before = this.offset;
            this.offset = await this.#patch(this.file.slice(this.offset, end), signal);
            if (this.offset <= before) throw new ApiError('The server did not accept any bytes.', 0, 'no_progress');
            attempt = 0; // progress was made: the next failure starts the delays over
          }
          this.#progress(this.file.size);
          return this.url;
        } catch (err) {
          if (signal.aborted) throw abortError();
          if ((err.status === 404 || err.status === 410) && this.url) {
            // The server forgot the upload (expired or finished): start over.
            this.forget();
            this.url = null;
            this.offset = 0;
          } else if (!retryable(err)) {
            throw err;
          }
          if (attempt >= this.retryDelays.length) throw err;
          const delay = this.retryDelays[attempt++];
          this.dispatchEvent(new CustomEvent('retry', { detail: { attempt, delay, error: err } }));
          await sleep(delay, signal);
          needSync = true;
        }
      }
    } finally {
      this.#controller = null;
    }
  }

  /** abort stops the transfer; the upload stays resumable with start(). */
  abort() {
    this.#controller?.abort();
  }

  /** forget drops the remembered URL (call it once the upload is used). */
  forget() {
    if (!this.#key) return; // never started: nothing remembered
    try { this.storage?.removeItem(this.#key); } catch { /* storage disabled */ }
  }

  /**
   * cancel stops the transfer and ends the upload on the server (tus
   * termination), so the bytes sent so far are dropped, not kept for a
   * resume. It resolves once the server answered (or could not be reached).
   */
  async cancel() {
    this.abort();
    const url = this.url;
    await this.fingerprint();
    this.forget();
    this.url = null;
    if (!url) return;
    try {
      await fetch(url, { method: 'DELETE', headers: { 'Tus-Resumable': TUS_VERSION }, credentials: 'same-origin' });
    } catch { /* unreachable: the pod expires abandoned uploads */ }
  }

  async #resumeOrCreate(signal) {
    let saved = null;
    const key = await this.fingerprint();
    try { saved = this.storage?.getItem(key) || null; } catch { /* storage disabled */ }
    if (saved) {
      try {
        this.url = saved;
        this.offset = await this.#head(signal);
        this.dispatchEvent(new CustomEvent('resume', { detail: { offset: this.offset } }));
        return;
      } catch (err) {
        if (signal.aborted) throw err;
        if (retryable(err)) throw err; // passing trouble: retry later, keep the URL
        this.url = null;
        this.forget(); // gone or not ours any more: create a new one
      }
    }
    const res = await this.#fetch(this.endpoint, {
      method: 'POST',
      headers: { 'Upload-Length': String(this.file.size), 'Upload-Metadata': encodeMetadata(this.metadata) },
      signal,
    });
    if (res.status !== 201) throw await errorFrom(res, 'The upload could not be created');
    const loc = res.headers.get('Location');
    if (!loc) throw new ApiError('The server created the upload but did not say where.', res.status, 'no_location');
    this.url = new URL(loc, this.endpoint).href;
    this.offset = 0;
    try { this.storage?.setItem(key, this.url); } catch { /* storage full or disabled */ }
  }

  async #head(signal) {
    const res = await this.#fetch(this.url, { method: 'HEAD', signal, cache: 'no-store' });
    if (!res.ok) throw await errorFrom(res, 'The upload could not be resumed');
    const offset = parseInt(res.headers.get('Upload-Offset'), 10);
    const length = res.headers.get('Upload-Length');
    if (!Number.isFinite(offset) || offset < 0) throw new ApiError('The server sent no valid Upload-Offset.', res.status, 'bad_offset');
    if (length !== null && length !== '' && parseInt(length, 10) !== this.file.size) {
      throw new ApiError('The saved upload is for a file of another size.', 410, 'length_mismatch');
    }
    return offset;
  }

  async #fetch(url, { headers = {}, ...init }) {
    try {
      return await fetch(url, { credentials: 'same-origin', ...init, headers: { 'Tus-Resumable': TUS_VERSION, ...headers } });
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      throw new ApiError('The connection to the pod failed.', 0, 'network');
    }
  }

  // #patch sends one chunk with XMLHttpRequest, whose upload progress events
  // fetch() does not offer, and resolves to the server's new offset.
  #patch(blob, signal) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      const base = this.offset;
      const onAbort = () => xhr.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const done = (fn, v) => { signal.removeEventListener('abort', onAbort); fn(v); };
      xhr.open('PATCH', this.url);
      xhr.withCredentials = true;
      xhr.setRequestHeader('Tus-Resumable', TUS_VERSION);
      xhr.setRequestHeader('Upload-Offset', String(base));
      xhr.setRequestHeader('Content-Type', 'application/offset+octet-stream');
      xhr.upload.addEventListener('progress', (e) => this.#progress(base + e.loaded));
      xhr.addEventListener('load', () => {
        if (xhr.status === 204 || xhr.status === 200) {
          const off = parseInt(xhr.getResponseHeader('Upload-Offset'), 10);
          if (Number.isFinite(off)) return done(resolve, off);
          return done(reject, new ApiError('The server sent no valid Upload-Offset.', xhr.status, 'bad_offset'));
        }
        done(reject, xhrError(xhr));
      });
      xhr.addEventListener('error', () => done(reject, new ApiError('The connection to the pod failed.', 0, 'network')));
      xhr.addEventListener('timeout', () => done(reject, new ApiError('The pod took too long to answer.', 0, 'timeout')));
      xhr.addEventListener('abort', () => done(reject, abortError()));
      xhr.send(blob);
    });
  }

  #progress(loaded) {
    this.dispatchEvent(new CustomEvent('progress', { detail: { loaded: Math.min(loaded, this.file.size), total: this.file.size } }));
  }
}

/** encodeMetadata: {k: v} → "k base64(utf8(v)),…" (tus Upload-Metadata). */
export function encodeMetadata(meta) {
  return Object.entries(meta)
    .filter(([k, v]) => /^[^\s,]+$/.test(k) && v !== undefined && v !== null)
    .map(([k, v]) => `${k} ${base64(String(v))}`)
    .join(',');
}

function base64(s) {
  let bin = '';
  for (const b of new TextEncoder().encode(s)) bin += String.fromCharCode(b);
  return btoa(bin);
}

// Network trouble, a stalled body (the pod's 500 upload_stalled, or the
// 408 a proxy such as nginx answers when it stops waiting for one),
// conflicts, locks, throttling and server errors may pass; anything else
// (a refused file, a missing right) will not. Exported for its test.
export function retryable(err) {
  const s = err && err.status;
  return err instanceof ApiError && (s === 0 || s === 408 || s === 409 || s === 423 || s === 429 || s >= 500);
}

async function errorFrom(res, what) {
  let msg = '';
  let code = `http_${res.status}`;
  try {
    const data = await res.json();
    if (data && typeof data.message === 'string') msg = data.message;
    if (data && data.error) code = data.error;
  } catch {
    try { msg = (await res.text()).trim().slice(0, 300); } catch { /* no body */ }
  }
  return new ApiError(msg ? `${what}: ${msg}` : `${what} (the pod answered ${res.status}).`, res.status, code);
}

function xhrError(xhr) {
  let msg = '';
  let code = `http_${xhr.status}`;
  try {
    const data = JSON.parse(xhr.responseText);
    if (data && typeof data.message === 'string') msg = data.message;
    if (data && data.error) code = data.error;
  } catch {
    msg = (xhr.responseText || '').trim().slice(0, 300);
  }
  return new ApiError(msg ? `The upload failed: ${msg}` : `The upload failed (the pod answered ${xhr.status}).`, xhr.status, code);
}

function abortError() {
  return new DOMException('The upload was cancelled.', 'AbortError');
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError());
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(abortError()); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function safeLocalStorage() {
  try { return globalThis.localStorage || null; } catch { return null; }
}
