// Upload: pick or drop a video, name it, then the file is (when the engine
// is available) hashed in the browser, sent to the pod with tus (resumable,
// chunked) and turned into a video; the page links to it.
import { initLayout } from '../layout.js';
import { pod, finishUpload, getVideo, hasRight, UPLOADS } from '../api.js';
import { el, $, clear, showError, showMessage, formatBytes, linkify, Transfer } from '../ui.js';
import { TusUpload } from '../tus.js';
import { loadEngine } from '../player.js';

const status = $('#status');
const form = $('#upload-form');
const fileInput = $('#file');
const drop = $('#dropzone');
const submit = $('#upload-submit');
const pause = $('#upload-pause');
const cancel = $('#upload-cancel');
const done = $('#upload-done');

let file = null;
let maxBytes = 0;
let running = null; // the TusUpload in flight
let cancelled = false; // the person pressed Cancel (not Pause)

async function main() {
  const user = await initLayout();
  if (!user) {
    showMessage(status, 'Log in to upload videos. ', '',
      el('a', { href: `/login?next=${encodeURIComponent('/upload')}` }, 'Log in'), ' or ',
      el('a', { href: '/register' }, 'create an account'), '.');
    return;
  }
  if (!hasRight(user, 'upload')) {
    showMessage(status, 'Your account may not upload videos yet. Ask the pod’s admin for the upload right.', 'error');
    return;
  }
  // The pod renders the form for a viewer who may upload, its button
  // disabled until this module is ready; a file picked before then counts.
  form.hidden = false;
  if (!file && fileInput.files[0]) choose(fileInput.files[0]);
  submit.disabled = false;
  pod().then((info) => {
    if (info && info.max_upload_bytes) {
      maxBytes = info.max_upload_bytes;
      $('#max-size').textContent = `, up to ${formatBytes(maxBytes)}`;
    }
  }).catch(() => {});
}

function choose(f) {
  if (!f) return;
  file = f;
  $('#file-chosen').textContent = `${f.name} (${formatBytes(f.size)})`;
  const name = $('#name');
  if (!name.value.trim()) name.value = f.name.replace(/\.[^.]+$/, '').replace(/[_.]+/g, ' ').trim();
  showMessage(status, '');
}

fileInput.addEventListener('change', () => choose(fileInput.files[0]));
// A file dropped beside the drop zone must not make the browser leave the page.
for (const type of ['dragover', 'drop']) {
  window.addEventListener(type, (e) => { if (!drop.contains(e.target)) e.preventDefault(); });
}
for (const type of ['dragenter', 'dragover']) {
  drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add('over'); });
}
for (const type of ['dragleave', 'drop']) {
  drop.addEventListener(type, () => drop.classList.remove('over'));
}
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  const f = e.dataTransfer && e.dataTransfer.files[0];
  if (f) choose(f);
});

function setProgress(which, fraction) {
  const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
  $(`#${which}-progress`).value = pct;
  $(`#${which}-text`).textContent = `${pct}%`;
}

function validate() {
  if (!file) return 'Choose a video file first.';
  if (file.size === 0) return 'This file is empty.';
  // The type is not judged here, by name: the pod checks the content from
  // the first bytes (and refuses a non-video at the first chunk).
  if (maxBytes && file.size > maxBytes) return `This file is larger than the pod accepts (${formatBytes(maxBytes)}).`;
  if (!$('#name').value.trim()) return 'Give the video a name.';
  return '';
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (running) return;
  const problem = validate();
  if (problem) {
    showMessage(status, problem, 'error');
    return;
  }
  showMessage(status, '');
  const meta = { filename: file.name, name: $('#name').value.trim(), description: $('#description').value };
  submit.disabled = true;
  pause.hidden = false;
  cancel.hidden = false;
  cancelled = false;
  form.setAttribute('aria-busy', 'true');
  $('#progress').hidden = false;
  setProgress('upload', 0);

  // The engine hashes the file as the pod will, while it uploads, so the
  // browser can seed it the moment the pod has it.
  const hashing = startHashing(file, meta.name);
  const upload = new TusUpload(file, { endpoint: UPLOADS, metadata: meta });
  running = upload;
  const transfer = new Transfer();
  upload.addEventListener('progress', (e) => {
    setProgress('upload', e.detail.loaded / e.detail.total);
    transfer.add(e.detail.loaded);
    $('#upload-detail').textContent = transfer.text(e.detail.loaded, e.detail.total);
  });
  upload.addEventListener('resume', (e) => showMessage(status, `Resuming an earlier upload from ${formatBytes(e.detail.offset)}.`));
  upload.addEventListener('retry', (e) => showMessage(status, `Connection trouble (${e.detail.error.message}); retrying in ${Math.round(e.detail.delay / 1000)} s…`));
  try {
    await upload.start();
    showMessage(status, 'Upload complete; the pod is checking the video…');
    // The fields as they are now: a resumed upload was created with the
    // ones typed then.
    const video = await finishUpload(upload.uploadID, { name: $('#name').value.trim(), description: $('#description').value });
    upload.forget();
    setProgress('upload', 1);
    showMessage(status, '');
    showDone(video);
    if (video.state === 'processing') {
      // The pod converts it first: the browser's hash cannot match.
      hashing.then((t) => t && t.close()).catch(() => {});
      followProcessing(video);
    } else {
      seedResult(hashing, video).then((note) => {
        if (note) done.append(el('p', { id: 'seeding-note' }, note));
      });
    }
  } catch (err) {
    hashing.then((t) => t && t.close()).catch(() => {});
    if (err.name === 'AbortError' && cancelled) {
      setProgress('upload', 0);
      $('#upload-detail').textContent = '';
      showMessage(status, 'Upload cancelled: the pod dropped what it had received.');
    } else if (err.name === 'AbortError') {
      showMessage(status, 'Upload paused. Press Upload to go on; after a reload, choose the same file again.');
    } else {
      if (err.status && err.status < 500 && err.status !== 429) upload.forget(); // refused for good
      if (err.code === 'duplicate_video') {
        // The pod names the copy it has: make its address a link.
        const p = el('p', { class: 'message error', id: 'duplicate-note' }, 'The upload failed: ');
        linkify(p, err.message);
        status.replaceChildren(p);
      } else {
        showError(status, err, 'The upload failed');
      }
    }
    submit.disabled = false;
  } finally {
    running = null;
    pause.hidden = true;
    cancel.hidden = true;
    form.setAttribute('aria-busy', 'false');
  }
});

// startHashing resolves to the engine's seeding Torrent, or null when the
// engine is not available (the upload goes on without it).
function startHashing(f, title) {
  return loadEngine().then((engine) => {
    $('#hash-row').hidden = false;
    setProgress('hash', 0);
    return engine.seedFile(f, { title, onProgress: (done, total) => setProgress('hash', total ? done / total : 1) });
  }).then((torrent) => {
    setProgress('hash', 1);
    return torrent;
  }).catch((err) => {
    console.warn('hashing in the browser:', err);
    if (!$('#hash-row').hidden) $('#hash-text').textContent = 'unavailable';
    return null;
  });
}

// seedResult tells whether the browser seeds the very torrent the pod made.
async function seedResult(hashing, video) {
  const torrent = await hashing;
  if (!torrent) return '';
  if (torrent.infoHash !== video.info_hash) {
    console.warn(`browser info hash ${torrent.infoHash} differs from the pod's ${video.info_hash}; not seeding`);
    torrent.close();
    return '';
  }
  window.addEventListener('pagehide', () => torrent.close(), { once: true });
  return 'Your browser seeds it too while this page stays open.';
}

pause.addEventListener('click', () => running && running.abort());
cancel.addEventListener('click', () => {
  if (!running) return;
  cancelled = true;
  running.cancel();
});

// followProcessing shows the pod's conversion progress until the video is
// published or has failed.
async function followProcessing(video) {
  const note = $('#processing-note');
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    let v;
    try {
      v = await getVideo(video.id);
    } catch (err) {
      continue; // a passing network error: ask again
    }
    if (v.state === 'published') {
      note.textContent = 'Converted: your video is online.';
      return;
    }
    if (v.state === 'failed') {
      note.textContent = `The pod could not convert this video: ${v.failure || 'unknown reason'}.`;
      note.classList.add('error');
      return;
    }
    const pct = Math.floor(100 * ((v.processing && v.processing.progress) || 0));
    note.textContent = `The pod is converting your video so every browser can play it: ${pct}% (${(v.processing && v.processing.step) || 'queued'}).`;
  }
}

function showDone(video) {
  // Keep the form (with its full progress bars) in view, read-only.
  for (const c of form.elements) c.disabled = true;
  submit.hidden = true;
  clear(done);
  const href = `/videos/${encodeURIComponent(video.id)}`;
  const processing = video.state === 'processing';
  done.append(
    el('h2', {}, processing ? 'Your video is uploaded' : 'Your video is online'),
    processing
      ? el('p', { id: 'processing-note', role: 'status' }, 'The pod is converting your video so every browser can play it; only you can see it until then.')
      : el('p', {}, '“', video.name, '” is being seeded by the pod.'),
    duplicatesNote(video.duplicates),
    el('p', { class: 'form-actions' },
      el('a', { class: 'button primary', href, id: 'watch-link' }, 'Watch it'),
      el('a', { class: 'button', href: '/upload' }, 'Upload another')));
  done.hidden = false;
  $('#watch-link').focus();
}

// duplicatesNote warns that this pod already has the same file under
// another name (the upload's answer lists them), linking to each copy.
function duplicatesNote(dups) {
  if (!dups || dups.length === 0) return null;
  const links = [];
  dups.forEach((d, i) => {
    if (i > 0) links.push(i === dups.length - 1 ? ' and ' : ', ');
    links.push('“', el('a', { href: `/videos/${encodeURIComponent(d.id)}` }, d.name || d.id), '”');
  });
  return el('p', { class: 'message warning', id: 'duplicate-note', role: 'status' },
    'This exact file is already on this pod as ', ...links,
    '. If you did not mean to publish it twice, remove one of them from its page.');
}

main().catch((err) => showError(status, err));
