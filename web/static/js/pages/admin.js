// Admin: friend pods (make friends, accept or refuse pods that ask, quit,
// list with score and status) and users' rights. The API enforces the
// admin right; the page only hides itself from others.
import { initLayout } from '../layout.js';
import {
  listFriends, listJobs, listMirrors, pickMirror, unpickMirror, makeFriends, quitFriends, acceptFriends, refuseFriends, listUsers, setRights, setQuota, setSuspended, removeUser, hasRight,
} from '../api.js';
import { el, $, clear, showError, showMessage, formatDate, formatBytes, timeAgo, safeURL } from '../ui.js';

const status = $('#status');
const RIGHTS = ['upload', 'admin'];
// Statuses of pods that are friends (the others are requests or ejected).
const FRIEND_STATES = ['syncing', 'active', 'unreachable'];

async function main() {
  const user = await initLayout();
  if (!user) {
    showMessage(status, 'Log in as an administrator to see this page. ', '',
      el('a', { href: `/login?next=${encodeURIComponent('/admin')}` }, 'Log in'));
    return;
  }
  if (!hasRight(user, 'admin')) {
    showMessage(status, 'This page is for the pod’s administrators.', 'error');
    return;
  }
  $('#admin').hidden = false;
  setupFriends();
  setupMirrors();
  await Promise.all([loadFriends(), loadUsers(user), loadJobs(), loadMirrors()]);
  // The queue moves by itself: follow it while the page is shown.
  setInterval(() => { if (!document.hidden) loadJobs(); }, 3000);
}

// Mirrors (issue 18): the admin picks friends' videos to keep a copy of
// (the manual strategy) and sees what the pod holds within its budget.
function setupMirrors() {
  const form = $('#mirrors-form');
  const mstatus = $('#mirrors-status');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    // A watch page address or a bare id: the id is the last path part.
    const raw = form.video.value.trim();
    const id = raw.split(/[?#]/)[0].split('/').filter(Boolean).pop() || '';
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const m = await pickMirror(id);
      showMessage(mstatus, `Mirroring “${m.name || m.video_id}”: ${m.state === 'held' ? 'held' : 'fetching'}.`, 'ok');
      form.video.value = '';
    } catch (err) {
      showError(mstatus, err, 'The video could not be mirrored');
    } finally {
      button.disabled = false;
      loadMirrors();
    }
  });
}

async function loadMirrors() {
  const body = $('#mirrors-table tbody');
  try {
    const res = await listMirrors();
    const list = (res && res.data) || [];
    $('#mirrors-summary').textContent = res.max_bytes > 0
      ? `Copies of friends’ videos this pod keeps and seeds (${res.strategy}): ${formatBytes(res.used_bytes || 0)} of ${formatBytes(res.max_bytes)}. A copy is kept at least ${Math.round((res.min_lifetime || 0) / 3600)} h.`
      : 'Mirroring is off on this pod (start it with --mirror-max-gb).';
    clear(body);
    if (list.length === 0) {
      body.append(el('tr', {}, el('td', { colspan: 6, class: 'hint' }, 'No mirrors.')));
      return;
    }
    for (const m of list) {
      const origin = safeURL(m.pod);
      const state = m.state === 'held' ? 'held' : 'wanted';
      const unpick = el('button', { type: 'button', class: 'button small', dataset: { action: 'unpick' } }, 'Unpick');
      unpick.hidden = !m.picked;
      unpick.addEventListener('click', async () => {
        unpick.disabled = true;
        try {
          await unpickMirror(m.video_id);
          showMessage($('#mirrors-status'), `“${m.name}” is no longer picked: its copy goes once its minimum lifetime has passed.`, 'ok');
        } catch (err) {
          showError($('#mirrors-status'), err, 'Unpicking failed');
        } finally {
          loadMirrors();
        }
      });
      body.append(el('tr', { dataset: { video: m.video_id, state } },
        el('td', {}, el('a', { href: `/videos/${encodeURIComponent(m.video_id)}` }, m.name || m.video_id)),
        el('td', {}, origin ? el('a', { href: origin, rel: 'noopener' }, m.pod) : ''),
        el('td', { class: 'num' }, formatBytes(m.size || 0)),
        el('td', {}, el('span', { class: `state ${state}` }, state === 'held' ? 'held' : `fetching (${formatBytes(m.missing || 0)} left)`)),
        el('td', { title: formatDate(m.held_at || m.added_at) }, timeAgo(m.held_at || m.added_at) || '—'),
        el('td', {}, unpick)));
    }
  } catch (err) {
    showError($('#mirrors-status'), err, 'The mirrors could not be loaded');
  }
}

const JOB_NAMES = { transcode: 'Conversion', images: 'Thumbnails', rendition: 'Resolution' };

async function loadJobs() {
  const body = $('#jobs-table tbody');
  try {
    const res = await listJobs();
    const jobs = (res && res.data) || [];
    $('#jobs-summary').textContent = `${res.running || 0} running, ${res.queued || 0} queued.`;
    clear(body);
    if (jobs.length === 0) {
      body.append(el('tr', {}, el('td', { colspan: 6, class: 'hint' }, 'No jobs since the pod started.')));
      return;
    }
    for (const j of jobs) {
      const kind = (JOB_NAMES[j.kind] || j.kind) + (j.resolution ? ` ${j.resolution}p` : '');
      const state = /^[a-z]+$/.test(j.state) ? j.state : '';
      const pct = Math.round(100 * (Number(j.progress) || 0));
      body.append(el('tr', { dataset: { kind: j.kind || '', state, video: j.video || '' } },
        el('td', {}, el('a', { href: `/videos/${encodeURIComponent(j.video)}` }, j.name || j.video)),
        el('td', {}, kind),
        el('td', {}, el('span', { class: `state ${state}`, title: j.error || '' }, j.state), j.error ? el('span', { class: 'hint' }, ` ${j.error}`) : null),
        el('td', { class: 'num' }, state === 'running'
          ? el('progress', { max: 100, value: pct, 'aria-label': `${kind}: ${pct}%` }, `${pct}%`)
          : (state === 'done' ? '100%' : '')),
        el('td', { title: formatDate(j.queued_at) }, timeAgo(j.queued_at) || '—'),
        el('td', { title: formatDate(j.finished_at) }, timeAgo(j.finished_at) || '')));
    }
  } catch (err) {
    showError($('#jobs-status'), err, 'The jobs could not be loaded');
  }
}

function setupFriends() {
  const form = $('#friends-form');
  const fstatus = $('#friends-status');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const pods = form.pods.value.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
    const bad = pods.filter((p) => !safeURL(p) || !/^https?:\/\//i.test(p));
    if (pods.length === 0 || bad.length) {
      showMessage(fstatus, pods.length ? `Not a pod URL: ${bad.join(', ')}` : 'Name at least one pod URL.', 'error');
      return;
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    showMessage(fstatus, `Contacting ${pods.length === 1 ? pods[0] : `${pods.length} pods`}…`);
    try {
      const res = await makeFriends(pods);
      const friends = ((res && res.friends) || []).filter((f) => FRIEND_STATES.includes(f.status));
      const requested = (res && res.requested) || [];
      const errors = Object.entries((res && res.errors) || {});
      clear(fstatus);
      if (friends.length) {
        fstatus.append(el('p', { class: 'message ok' },
          `Now friends with ${friends.map((f) => f.name || f.url).join(', ')}.`));
        form.pods.value = '';
      }
      if (requested.length) {
        fstatus.append(el('p', { class: 'message' },
          `Asked ${requested.join(', ')}: ${requested.length === 1 ? 'its admin' : 'their admins'} must accept.`));
        form.pods.value = '';
      }
      if (errors.length) {
        fstatus.append(el('div', { class: 'message error' },
          el('p', {}, 'Some pods could not be friended:'),
          el('ul', {}, errors.map(([url, why]) => el('li', {}, el('strong', {}, url), `: ${why}`)))));
      }
      if (!friends.length && !requested.length && !errors.length) showMessage(fstatus, 'Nothing changed.', '');
    } catch (err) {
      showError(fstatus, err, 'Making friends failed');
    } finally {
      button.disabled = false;
      loadFriends();
    }
  });

  const quit = $('#quit-friends');
  quit.addEventListener('click', async () => {
    if (!window.confirm('Quit every friend pod? Their videos leave this pod’s lists and they are told so.')) return;
    quit.disabled = true;
    try {
      await quitFriends();
      showMessage(fstatus, 'This pod has no friends any more.', 'ok');
    } catch (err) {
      showError(fstatus, err, 'Quitting friends failed');
    } finally {
      quit.disabled = false;
      loadFriends();
    }
  });
}

async function loadFriends() {
  const body = $('#friends-table tbody');
  try {
    const res = await listFriends();
    const friends = (res && res.data) || [];
    clear(body);
    if (friends.length === 0) {
      body.append(el('tr', {}, el('td', { colspan: 7, class: 'hint' }, 'No friends yet.')));
      return;
    }
    for (const f of friends) {
      const url = safeURL(f.url);
      const request = f.status === 'pending' || f.status === 'refused';
      const when = request ? f.requested_at : f.last_seen;
      body.append(el('tr', { dataset: { url: f.url, status: f.status || '' } },
        el('td', {}, url ? el('a', { href: url, rel: 'noopener' }, f.url) : f.url),
        el('td', {}, f.name || ''),
        el('td', { class: 'num' }, request ? '' : String(f.score ?? '')),
        el('td', {}, el('span', { class: `state ${/^[a-z]+$/.test(f.status) ? f.status : ''}` }, f.status || '')),
        el('td', { title: formatDate(when) }, timeAgo(when) || '—'),
        el('td', { class: 'num' }, String(f.pending_events ?? 0)),
        el('td', {}, requestActions(f))));
    }
  } catch (err) {
    showError($('#friends-status'), err, 'The friend list could not be loaded');
  }
}

// requestActions: Accept and Refuse for a pod that asks to be friends
// (Accept alone once refused); nothing for the others.
function requestActions(f) {
  if (f.status !== 'pending' && f.status !== 'refused') return '';
  const fstatus = $('#friends-status');
  const who = f.name || f.url;
  const act = (label, cls, run, done) => {
    const b = el('button', { type: 'button', class: `button small ${cls}`, dataset: { action: label.toLowerCase() } }, label);
    b.setAttribute('aria-label', `${label} ${who}`);
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        const res = await run([f.url]);
        const errors = Object.entries((res && res.errors) || {});
        if (errors.length) showMessage(fstatus, `${who}: ${errors[0][1]}`, 'error');
        else showMessage(fstatus, done, 'ok');
      } catch (err) {
        showError(fstatus, err, `${label} ${who} failed`);
      } finally {
        loadFriends();
      }
    });
    return b;
  };
  const out = [act('Accept', 'primary', acceptFriends, `Now friends with ${who}.`)];
  if (f.status === 'pending') out.push(' ', act('Refuse', 'danger', refuseFriends, `Refused ${who}; it was told.`));
  return el('span', { class: 'actions' }, out);
}

async function loadUsers(self) {
  const body = $('#users-table tbody');
  const ustatus = $('#users-status');
  try {
    const res = await listUsers();
    clear(body);
    for (const u of (res && res.data) || []) body.append(userRow(u, self, ustatus));
  } catch (err) {
    showError(ustatus, err, 'The users could not be loaded');
  }
}

function userRow(u, self, ustatus) {
  const boxes = RIGHTS.map((r) => el('input', {
    type: 'checkbox', checked: (u.rights || []).includes(r), 'aria-label': `${r} right of ${u.username}`,
    dataset: { right: r },
    // An admin cannot take the admin right from themself here: it would lock them out.
    disabled: r === 'admin' && u.username === self.username,
  }));
  // Quotas are bytes in the API (-1 unlimited) and MiB here (empty unlimited).
  const MiB = 1024 * 1024;
  const quotaInput = (bytes, label, key) => el('input', {
    type: 'number', min: '0', step: '1', inputmode: 'numeric', class: 'quota', placeholder: 'unlimited',
    value: bytes >= 0 ? String(Math.round(bytes / MiB)) : '', 'aria-label': `${label} of ${u.username}, in MiB`,
    dataset: { quota: key },
  });
  const quota = quotaInput(u.video_quota ?? -1, 'Quota', 'total');
  const daily = quotaInput(u.video_quota_daily ?? -1, 'Daily quota', 'daily');
  const bytesOf = (input) => (input.value.trim() === '' ? -1 : Math.max(0, Math.round(Number(input.value))) * MiB);
  const save = el('button', { type: 'button', class: 'button small', disabled: true }, 'Save');
  save.setAttribute('aria-label', `Save the rights and quotas of ${u.username}`);
  const original = () => JSON.stringify([...(u.rights || [])].sort());
  const chosen = () => RIGHTS.filter((_, i) => boxes[i].checked).concat((u.rights || []).filter((r) => !RIGHTS.includes(r)));
  const rightsChanged = () => JSON.stringify(chosen().sort()) !== original();
  const quotaChanged = () => bytesOf(quota) !== (u.video_quota ?? -1) || bytesOf(daily) !== (u.video_quota_daily ?? -1);
  const update = () => { save.disabled = !rightsChanged() && !quotaChanged(); };
  for (const b of boxes) b.addEventListener('change', update);
  for (const q of [quota, daily]) q.addEventListener('input', update);
  save.addEventListener('click', async () => {
    save.disabled = true;
    try {
      if (rightsChanged()) {
        const updated = await setRights(u.username, chosen());
        u.rights = (updated && updated.rights) || chosen();
      }
      if (quotaChanged()) {
        const updated = await setQuota(u.username, bytesOf(quota), bytesOf(daily));
        u.video_quota = updated.video_quota;
        u.video_quota_daily = updated.video_quota_daily;
      }
      showMessage(ustatus, `Saved the rights and quotas of ${u.username}.`, 'ok');
    } catch (err) {
      showError(ustatus, err, `The changes for ${u.username} could not be saved`);
      update();
    }
  });
  return el('tr', { dataset: { username: u.username } },
    el('th', { scope: 'row' }, u.username),
    el('td', {}, formatDate(u.created_at)),
    el('td', {}, boxes[0]),
    el('td', {}, boxes[1]),
    el('td', {}, quota),
    el('td', {}, daily),
    el('td', {}, save),
    el('td', { class: 'account-actions' }, ...accountActions(u, self, ustatus)));
}

// accountActions suspends or reinstates a user, or removes them with their
// videos; an admin does neither to themself here.
function accountActions(u, self, ustatus) {
  if (u.username === self.username) return [];
  const suspend = el('button', { type: 'button', class: 'button small', dataset: { action: 'suspend' } }, u.suspended ? 'Reinstate' : 'Suspend');
  suspend.setAttribute('aria-label', `${u.suspended ? 'Reinstate' : 'Suspend'} ${u.username}`);
  suspend.addEventListener('click', async () => {
    suspend.disabled = true;
    try {
      const updated = await setSuspended(u.username, !u.suspended);
      u.suspended = !!updated.suspended;
      suspend.textContent = u.suspended ? 'Reinstate' : 'Suspend';
      suspend.setAttribute('aria-label', `${u.suspended ? 'Reinstate' : 'Suspend'} ${u.username}`);
      showMessage(ustatus, u.suspended ? `${u.username} is suspended: they cannot log in.` : `${u.username} can log in again.`, 'ok');
    } catch (err) {
      showError(ustatus, err, `${u.username} could not be changed`);
    }
    suspend.disabled = false;
  });
  const remove = el('button', { type: 'button', class: 'button small danger', dataset: { action: 'remove' } }, 'Remove');
  remove.setAttribute('aria-label', `Remove ${u.username} and their videos`);
  remove.addEventListener('click', async () => {
    if (!window.confirm(`Remove ${u.username} and all their videos? This cannot be undone.`)) return;
    remove.disabled = true;
    try {
      await removeUser(u.username);
      remove.closest('tr').remove();
      showMessage(ustatus, `${u.username} and their videos were removed.`, 'ok');
    } catch (err) {
      showError(ustatus, err, `${u.username} could not be removed`);
      remove.disabled = false;
    }
  });
  return [suspend, ' ', remove];
}

main().catch((err) => showError(status, err));
