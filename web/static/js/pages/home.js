// Home: the newest videos of this pod and its friends.
import { initLayout } from '../layout.js';
import { listVideos } from '../api.js';
import { showVideoList } from '../videolist.js';

initLayout();
showVideoList({
  fetchPage: listVideos,
  empty: 'No videos yet. Be the first to upload one!',
  hrefFor: (p) => (p > 1 ? `/?page=${p}` : '/'),
});
