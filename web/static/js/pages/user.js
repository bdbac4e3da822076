// A user's page: the videos they uploaded to this pod, newest first, and
// their feed. The username is the last path segment: /users/{name}.
import { initLayout } from '../layout.js';
import { listVideosByOwner } from '../api.js';
import { showVideoList } from '../videolist.js';

const name = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
document.getElementById('page-title').textContent = `Videos by ${name}`;
document.title = `Videos by ${name} · Swarmtube`;
document.getElementById('user-feed').href = `/feeds/videos.xml?user=${encodeURIComponent(name)}`;

initLayout();
showVideoList({
  fetchPage: (start, count) => listVideosByOwner(name, start, count),
  empty: `${name} has no videos on this pod yet.`,
  hrefFor: (p) => `/users/${encodeURIComponent(name)}${p > 1 ? `?page=${p}` : ''}`,
});
