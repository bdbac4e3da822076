// Search: videos of this pod and its friends whose name or description
// matches ?q= (the rules are stated on the page, #search-help). The pod
// renders the results; the script adds the account menu and keeps the
// words in the search box.
import { initLayout } from '../layout.js';

const q = (new URLSearchParams(location.search).get('q') || '').trim();
const box = document.getElementById('site-search');

initLayout();
if (box) {
  box.value = q;
  if (!q) box.focus();
}
