// Search: videos of this pod and its friends whose name or description
// matches ?q= (the rules are stated on the page, #search-help).
import { initLayout } from '../layout.js';
import { searchVideos } from '../api.js';
import { showVideoList } from '../videolist.js';

const q = (new URLSearchParams(location.search).get('q') || '').trim();
const title = document.getElementById('page-title');

initLayout();
if (!q) {
  title.textContent = 'Search';
  document.getElementById('videos').append(
    Object.assign(document.createElement('li'), { className: 'empty', textContent: 'Type words from a video’s name in the search box.' }));
  document.getElementById('site-search')?.focus();
} else {
  title.textContent = `Results for “${q}”`;
  document.title = `${q} · Search · Swarmtube`;
  showVideoList({
    fetchPage: (start, count) => searchVideos(q, start, count),
    empty: `No video matches “${q}”.`,
    hrefFor: (p) => `/search?q=${encodeURIComponent(q)}${p > 1 ? `&page=${p}` : ''}`,
  }).then((res) => {
    if (res) title.textContent = `${res.total} result${res.total === 1 ? '' : 's'} for “${q}”`;
  });
}
