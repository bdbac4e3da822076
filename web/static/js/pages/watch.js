// Watch: the player, the video's details, live sharing stats and links for
// BitTorrent clients. The video id is the last path segment: /videos/{id}.
import { initLayout } from '../layout.js';
import { getVideo, deleteVideo, updateVideo, countView, hasRight } from '../api.js';
import { el, $, clear, showError, showMessage, safeURL, formatBytes, formatRate, formatDate, podHost, linkify, viewsText } from '../ui.js';
import { openPlayer, prepareEngine } from '../player.js';
import { attachStoryboard } from '../storyboard.js';
import { BytesChart } from '../chart.js';

const id = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
const status = $('#status');
const playerBox = $('#player');

async function main() {
  // A first visit's video started in the head (engine/start.js): the page
  // is in the HTML already, so its scripts' work waits for the first frame
  // rather than compete with the player for the main thread (BENCHMARKS.md,
  // start-up).
  await self.swarmtubeStart?.firstFrame;
  prepareEngine(); // Service Worker registration in parallel with the API call
  const userP = initLayout();
  let video;
  try {
    video = renderedVideo() ?? await getVideo(id);
  } catch (err) {
    playerBox.hidden = true;
    showError(status, err, err.status === 404 ? 'This video does not exist or was removed' : 'The video could not be loaded');
    return;
  }
  document.title = `${video.name} · Swarmtube`;
  // The pod renders a published video's details, links and buttons in the
  // HTML (web/templates/watch.html): bind them rather than build them, so
  // nothing moves when the script arrives.
  if ($('#video-info').dataset.rendered === 'true') {
    bindEmbed($('#embed-button'), video);
  } else {
    renderInfo(video);
    renderLinks(video);
  }
  userP.then((user) => renderActions(video, user));
  if (video.state && video.state !== 'published') {
    playerBox.hidden = true;
    waitPublished(video); // only its owner sees a video in this state
    return;
  }

  const session = await openPlayer(video, playerBox);
  playerBox.setAttribute('aria-busy', 'false');
  renderQuality(session);
  stopStats = startStats(session);
  if (session.media) {
    watchForView(video, session.media);
    attachStoryboard(session.media, playerBox, video.storyboard_url).catch((err) => console.warn('storyboard:', err));
  }
  window.addEventListener('pagehide', () => session.destroy(), { once: true });
}

// renderedVideo returns the video's API object as the pod rendered it in
// the page (web/templates/watch.html, a published video), so the player
// starts without an API round trip first; null when it is not there.
function renderedVideo() {
  const data = document.getElementById('video-data');
  if (!data) return null;
  try {
    const v = JSON.parse(data.textContent);
    return v && v.id === id ? v : null;
  } catch {
    return null;
  }
}

// renderQuality fills the quality menu: Auto (naming the resolution it
// plays) and each of the video's resolutions, best first, and enables it
// (the pod renders it, disabled, at its final size: web/watch.go). A video
// with one file has no menu.
function renderQuality(session) {
  const files = session.files || [];
  if (files.length < 2) {
    $('#quality').hidden = true;
    return;
  }
  const select = $('#quality-select');
  const label = (f) => (f.resolution ? `${f.resolution}p` : 'Original');
  const auto = el('option', { value: 'auto' }, 'Auto');
  select.replaceChildren(auto, ...files.map((f) => el('option', { value: String(f.resolution) }, label(f))));
  const show = (quality, file) => {
    auto.textContent = `Auto (${label(file)})`;
    select.value = quality === 'auto' ? 'auto' : String(quality);
    select.dataset.playing = String(file.resolution);
  };
  show(session.quality, session.file);
  session.onQuality(show);
  select.addEventListener('change', () => {
    session.setQuality(select.value);
  });
  select.disabled = false;
  $('#quality').hidden = false;
}

// stopStats stops the stats panel and the player's session (set once the
// player runs).
let stopStats = () => {};

// waitPublished says how the pod's conversion goes and reloads the page
// once the video is published.
async function waitPublished(v) {
  for (;;) {
    if (v.state === 'failed') {
      showMessage(status, `The pod could not convert this video: ${v.failure || 'unknown reason'}.`, 'error');
      return;
    }
    if (v.state === 'published') {
      location.reload();
      return;
    }
    const pct = Math.floor(100 * ((v.processing && v.processing.progress) || 0));
    showMessage(status, `This video is being converted so every browser can play it: ${pct}%. Only you can see it until then.`);
    await new Promise((r) => setTimeout(r, 2000));
    try {
      v = await getVideo(v.id);
    } catch (err) {
      // ask again
    }
  }
}

function renderInfo(v) {
  $('#video-title').textContent = v.name || 'Untitled';
  const meta = $('#video-meta');
  clear(meta); // renderInfo runs again after an edit or a counted view
  const pod = safeURL(v.pod);
  if (v.owner && v.local !== false) {
    meta.append('By ', el('a', { href: `/users/${encodeURIComponent(v.owner)}`, id: 'video-owner' }, v.owner), ' · ');
  } else if (v.owner) {
    meta.append(`By ${v.owner} · `);
  }
  append(meta, [
    viewsText(v.views),
    formatDate(v.created_at),
    v.size ? formatBytes(v.size) : '',
  ].filter(Boolean).join(' · '));
  if (pod) {
    meta.append(' · from ', el('a', { href: pod, rel: 'noopener' }, podHost(pod)));
    if (v.local === false) meta.append(' ', el('span', { class: 'badge' }, 'friend pod'));
  }
  const desc = $('#video-description');
  clear(desc);
  linkify(desc, v.description || '');
  $('#video-info').hidden = false;
}

function append(node, text) {
  if (text) node.append(text);
}

function renderLinks(v) {
  const list = $('#bt-links');
  clear(list);
  const magnet = safeURL(v.magnet, ['magnet:']);
  const torrent = safeURL(v.torrent_url);
  const webseed = safeURL(v.webseed_url);
  if (magnet) list.append(el('li', {}, el('a', { href: magnet, id: 'magnet-link' }, 'Magnet link')));
  if (torrent) list.append(el('li', {}, el('a', { href: torrent, download: '', id: 'torrent-link' }, 'Torrent file (.torrent)')));
  if (webseed) list.append(el('li', {}, el('a', { href: webseed, download: '', rel: 'noopener' }, 'Direct download (HTTP)')));
  if (v.info_hash) list.append(el('li', { class: 'hint' }, 'Info hash: ', el('code', {}, v.info_hash)));
  list.append(el('li', {}, bindEmbed(el('button', { type: 'button', class: 'button', id: 'embed-button' }, 'Embed'), v)));
}

// bindEmbed makes button copy the iframe code of the embeddable player;
// where the clipboard is refused it shows the code to copy by hand.
function bindEmbed(button, v) {
  const src = `${location.origin}/videos/${encodeURIComponent(v.id)}/embed`;
  const code = `<iframe src="${src}" width="640" height="360" title="${(v.name || 'Video').replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`)}" allow="autoplay; fullscreen" allowfullscreen style="border:0"></iframe>`;
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(code);
      showMessage(status, 'The embed code is copied: paste it into your page.', 'ok');
    } catch {
      const area = el('textarea', { readonly: '', rows: 3, 'aria-label': 'Embed code', id: 'embed-code' });
      area.value = code;
      button.replaceWith(area);
      area.select();
    }
  });
  button.disabled = false; // the pod renders it disabled until bound
  return button;
}

// renderActions binds the owner's Edit and Remove buttons: the pod renders
// them for a signed-in owner or admin; they are built here only when the
// pod could not (a video still processing).
function renderActions(v, user) {
  const box = $('#video-actions');
  if (!user || v.local === false || (user.username !== v.owner && !hasRight(user, 'admin'))) {
    clear(box);
    return;
  }
  let edit = document.getElementById('edit-video');
  let del = document.getElementById('delete-video');
  if (!edit || !del) {
    edit = el('button', { type: 'button', class: 'button', id: 'edit-video' }, 'Edit');
    del = el('button', { type: 'button', class: 'button danger', id: 'delete-video' }, 'Remove this video');
    box.replaceChildren(edit, del);
  }
  bindEdit(edit, v);
  edit.disabled = false; // the pod renders them disabled until bound
  del.disabled = false;
  del.addEventListener('click', async () => {
    if (!window.confirm(`Remove “${v.name}” from the pod? Its file is deleted and seeding stops.`)) return;
    del.disabled = true;
    try {
      await deleteVideo(v.id);
      showMessage(status, 'The video was removed. ', 'ok', el('a', { href: '/' }, 'Back to the videos'));
      stopStats('Sharing stopped: the video was removed.');
      playerBox.replaceChildren();
      playerBox.hidden = true;
      $('#video-info').hidden = true;
      // Its magnet, .torrent and web seed links now lead nowhere.
      const links = $('#bt-links').closest('section');
      if (links) links.hidden = true;
    } catch (err) {
      showError(status, err, 'The video could not be removed');
      del.disabled = false;
    }
  });
}

// watchForView reports a view once the viewer has watched 10 s (or the
// whole of a shorter video), as PeerTube counts them. The viewer session
// is a random token kept for the tab's life, so a reload does not count
// twice; the pod also refuses a second count for it.
function watchForView(v, media) {
  let watched = 0;
  let last = media.currentTime;
  let sent = false;
  const send = () => {
    if (sent) return;
    sent = true;
    let token = '';
    try {
      token = sessionStorage.getItem('swarmtube.viewer') || '';
      if (!token) {
        token = [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('');
        sessionStorage.setItem('swarmtube.viewer', token);
      }
    } catch {
      token = [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('');
    }
    countView(v.id, token).then((r) => {
      v.views = r.views;
      renderInfo(v);
    }).catch((err) => console.warn('view:', err));
  };
  media.addEventListener('timeupdate', () => {
    const d = media.currentTime - last;
    last = media.currentTime;
    if (d > 0 && d < 2) watched += d; // playback, not a seek
    const need = Number.isFinite(media.duration) && media.duration > 0 ? Math.min(10, media.duration * 0.9) : 10;
    if (watched >= need) send();
  });
  media.addEventListener('ended', send);
}

// bindEdit makes button let the owner (or an admin) change the name and
// description in place, through PATCH /api/v1/videos/{id}.
function bindEdit(button, v) {
  button.addEventListener('click', () => {
    // The pod's limits, from the page (server/api), so the form never takes
    // what the PATCH would refuse.
    const { maxNameRunes, maxDescriptionRunes } = document.body.dataset;
    const name = el('input', { id: 'edit-name', type: 'text', required: '', maxlength: maxNameRunes, value: v.name || '' });
    const description = el('textarea', { id: 'edit-description', rows: '4', maxlength: maxDescriptionRunes });
    description.value = v.description || '';
    const save = el('button', { type: 'submit', class: 'button primary', id: 'edit-save' }, 'Save');
    const cancel = el('button', { type: 'button', class: 'button', id: 'edit-cancel' }, 'Cancel');
    const form = el('form', { class: 'form card', id: 'edit-form' },
      el('label', { for: 'edit-name' }, 'Name'), name,
      el('label', { for: 'edit-description' }, 'Description'), description,
      el('div', { class: 'form-actions' }, save, cancel));
    const info = $('#video-info');
    info.hidden = true;
    info.after(form);
    name.focus();
    const close = () => { form.remove(); info.hidden = false; };
    cancel.addEventListener('click', close);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      save.disabled = true;
      try {
        const updated = await updateVideo(v.id, { name: name.value.trim(), description: description.value });
        Object.assign(v, updated);
        document.title = `${v.name} · Swarmtube`;
        renderInfo(v);
        close();
        showMessage(status, 'Saved.', 'ok');
      } catch (err) {
        showError(status, err, 'The changes could not be saved');
        save.disabled = false;
      }
    });
  });
  return button;
}

// startStats updates the panel every second from session.stats() until the
// player's video leaves the page or the returned stop(note) is called,
// which also ends the session (no more downloading or sharing).
function startStats(session) {
  const chart = new BytesChart($('#stats-chart'));
  const set = (sel, text) => { $(sel).textContent = text; };
  let timer;
  const stop = (note) => {
    if (timer === undefined) return;
    clearInterval(timer);
    timer = undefined;
    session.destroy();
    set('#stat-down', formatRate(0));
    set('#stat-up', formatRate(0));
    set('#stats-mode', note || 'Sharing stopped.');
  };
  const tick = () => {
    if (session.media && !session.media.isConnected) {
      stop('Sharing stopped: the video left the page.');
      return;
    }
    let s;
    try {
      s = session.stats();
    } catch (err) {
      console.warn('stats:', err);
      return;
    }
    set('#stats-mode', s.note || '');
    if (s.reason) $('#stats-mode').title = `Why: ${s.reason}`;
    set('#stat-peers', s.relayed ? `${s.peers} (${s.relayed} relayed)` : String(s.peers));
    set('#stat-down', formatRate(s.downloadSpeed));
    set('#stat-up', formatRate(s.uploadSpeed));
    set('#stat-progress', `${Math.round((s.progress || 0) * 100)}%`);
    // Bytes by source (issue 18): other viewers, the origin pod's web
    // seed, its mirrors' web seeds, and pods' seeders (origin's or
    // mirrors': a WebRTC peer does not say which pod it is). data-bytes
    // keeps the exact count.
    const bytes = (sel, n) => {
      set(sel, formatBytes(n || 0));
      $(sel).dataset.bytes = String(n || 0);
    };
    bytes('#stat-from-peers', s.fromPeers);
    bytes('#stat-from-pod', s.fromPod);
    bytes('#stat-from-origin', s.fromOrigin);
    bytes('#stat-from-mirrors', s.fromMirrors);
    bytes('#stat-from-seeder', s.fromSeeder);
    set('#stat-saved', formatBytes(s.fromPeers));
    const total = s.fromPeers + s.fromPod;
    const pct = (n) => `${Math.round(((n || 0) / total) * 100)}%`;
    set('#stats-caption', total > 0
      ? `${pct(s.fromPeers)} of the bytes came from peers, ${pct(s.fromOrigin)} from the origin pod, ${pct(s.fromMirrors)} from mirrors${s.fromSeeder ? `, ${pct(s.fromSeeder)} from pods’ seeders` : ''}.`
      : 'Bytes received from peers and from pods over time.');
    chart.push(s.fromPeers, s.fromPod);
  };
  tick();
  timer = setInterval(tick, 1000);
  const storageTimer = session.storage ? startStorage(session) : undefined;
  window.addEventListener('pagehide', () => stop(), { once: true });
  return (note) => {
    clearInterval(storageTimer);
    stop(note);
  };
}

// startStorage shows what the browser keeps of the videos watched (the
// engine's OPFS/IndexedDB store) and lets the viewer clear it; it returns
// the timer that refreshes it every few seconds.
function startStorage(session) {
  const box = $('#storage');
  const usage = $('#storage-usage');
  const status = $('#storage-status');
  const button = $('#storage-clear');
  const show = (u) => {
    if (!u || u.backend === 'none') {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    const videos = u.videos === 1 ? '1 video' : `${u.videos} videos`;
    // persisted: the browser granted persistent storage (the engine asks
    // once it has stored something), else it may evict them when short
    // of space.
    const kept = u.persisted ? 'Your browser keeps them until you clear them.' : 'Your browser may delete them when it runs short of space.';
    usage.textContent = `${formatBytes(u.bytes)} of ${formatBytes(u.budget)} used (${videos}). Watching again takes these from your browser, not the pod, and this page shares them with other viewers. ${kept}`;
  };
  const refresh = () => session.storage().then(show, (err) => console.warn('storage:', err));
  button.addEventListener('click', async () => {
    button.disabled = true;
    status.textContent = 'Clearing…';
    try {
      show(await session.clearStorage());
      status.textContent = 'Cleared: this browser keeps no video now.';
    } catch (err) {
      status.textContent = `Could not clear: ${(err && err.message) || err}`;
    } finally {
      button.disabled = false;
    }
  });
  refresh();
  return setInterval(refresh, 5000);
}

main().catch((err) => showError(status, err));
