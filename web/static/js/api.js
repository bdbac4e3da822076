// api.js: a small client for the pod's public REST API (/api/v1, see
// API.md). Every failure becomes an ApiError whose message is fit to show a
// person: the API's own "message" when it sent one.

/** An API failure: message for people, status and code for programs. */
export class ApiError extends Error {
  constructor(message, status = 0, code = '') {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/**
 * request sends one API call and returns the decoded JSON body (null for an
 * empty answer). The session cookie rides along (same origin only).
 */
export async function request(method, path, { body, query, signal } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  }
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError('The pod cannot be reached. Check your connection and try again.', 0, 'network');
  }
  return decode(res);
}

/** decode turns a fetch Response into its JSON body or an ApiError. */
export async function decode(res) {
  let data = null;
  if ((res.headers.get('Content-Type') || '').includes('json')) {
    data = await res.json().catch(() => null);
  }
  if (!res.ok) {
    const message = data && typeof data.message === 'string' && data.message
      ? data.message
      : `The pod answered ${res.status} ${res.statusText || 'error'}.`;
    throw new ApiError(message, res.status, (data && data.error) || `http_${res.status}`);
  }
  return data;
}

/** MAX_COUNT is the most items one page of a list holds (API.md: count). */
export const MAX_COUNT = 100;

/**
 * everyPage resolves to the first answer of the list at path with its
 * "data" holding every item, fetched a page of MAX_COUNT at a time while
 * fewer than its "total" are in: the admin page shows whole lists, which
 * the pod pages like every other (?start=&count=, 20 by default).
 */
export async function everyPage(path) {
  const first = await request('GET', path, { query: { start: 0, count: MAX_COUNT } });
  const data = [...((first && first.data) || [])];
  while (data.length < ((first && first.total) || 0)) {
    const next = await request('GET', path, { query: { start: data.length, count: MAX_COUNT } });
    if (!next || !next.data || next.data.length === 0) break; // the list shrank meanwhile
    data.push(...next.data);
  }
  return { ...first, data };
}

let meCache;

/** me resolves to the logged-in user, or null for a visitor. Cached per page. */
export function me() {
  // optional=true: a visitor gets 204, not a 401 that browsers log as an error.
  meCache ??= request('GET', '/api/v1/users/me', { query: { optional: 'true' } }).then((u) => u || null).catch((err) => {
    if (err.status === 401) return null;
    meCache = undefined; // a network failure should not stick
    throw err;
  });
  return meCache;
}

/** hasRight reports whether user holds right (admins hold every right). */
export function hasRight(user, right) {
  const rights = (user && user.rights) || [];
  return rights.includes(right) || rights.includes('admin');
}

export const pod = () => request('GET', '/api/v1/pod');

export const register = (username, password) => request('POST', '/api/v1/users', { body: { username, password } });
export async function login(username, password) {
  const tok = await request('POST', '/api/v1/users/token', { body: { username, password } });
  meCache = undefined;
  return tok;
}
export async function logout() {
  await request('DELETE', '/api/v1/users/token');
  meCache = undefined;
}
export const listUsers = () => everyPage('/api/v1/users');
export const changePassword = (password, newPassword) => request('PUT', '/api/v1/users/me/password', { body: { password, new_password: newPassword } });
export const deleteMe = (password) => request('DELETE', '/api/v1/users/me', { body: { password } });
export const setSuspended = (username, suspended) =>
  request('PUT', `/api/v1/users/${encodeURIComponent(username)}/suspended`, { body: { suspended } });
export const removeUser = (username) => request('DELETE', `/api/v1/users/${encodeURIComponent(username)}`);
/** setQuota sets a user's quotas in bytes (-1 unlimited, null the pod's default). */
export const setQuota = (username, videoQuota, videoQuotaDaily) =>
  request('PUT', `/api/v1/users/${encodeURIComponent(username)}/quota`, { body: { video_quota: videoQuota, video_quota_daily: videoQuotaDaily } });
export const setRights = (username, rights) =>
  request('PUT', `/api/v1/users/${encodeURIComponent(username)}/rights`, { body: { rights } });

export const listVideos = (start, count) => request('GET', '/api/v1/videos', { query: { start, count } });
export const listVideosByOwner = (owner, start, count) => request('GET', '/api/v1/videos', { query: { owner, start, count } });
export const searchVideos = (q, start, count) => request('GET', '/api/v1/videos/search', { query: { q, start, count } });
export const getVideo = (id) => request('GET', `/api/v1/videos/${encodeURIComponent(id)}`);
export const updateVideo = (id, fields) => request('PATCH', `/api/v1/videos/${encodeURIComponent(id)}`, { body: fields });
export const countView = (id, session) => request('POST', `/api/v1/videos/${encodeURIComponent(id)}/views`, { body: { session } });
export const deleteVideo = (id) => request('DELETE', `/api/v1/videos/${encodeURIComponent(id)}`);
export const finishUpload = (uploadID, fields) =>
  request('POST', `/api/v1/videos/uploads/${encodeURIComponent(uploadID)}/finish`, fields ? { body: fields } : {});

export const listFriends = () => everyPage('/api/v1/pods');
export const listJobs = () => everyPage('/api/v1/jobs');
export const listMirrors = () => everyPage('/api/v1/mirrors');
export const pickMirror = (id) => request('PUT', `/api/v1/mirrors/${encodeURIComponent(id)}`);
export const unpickMirror = (id) => request('DELETE', `/api/v1/mirrors/${encodeURIComponent(id)}`);
export const makeFriends = (pods) => request('POST', '/api/v1/pods/makefriends', { body: { pods } });
export const quitFriends = () => request('POST', '/api/v1/pods/quitfriends');
export const acceptFriends = (pods) => request('POST', '/api/v1/pods/accept', { body: { pods } });
export const refuseFriends = (pods) => request('POST', '/api/v1/pods/refuse', { body: { pods } });

/** UPLOADS is the tus 1.0.0 endpoint for resumable uploads. */
export const UPLOADS = '/api/v1/videos/uploads/';
