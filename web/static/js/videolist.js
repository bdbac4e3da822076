// videolist.js: a paged grid of video cards, shared by home and search.
import { el, clear, showError, showMessage, videoCard, renderPager, pageParam } from './ui.js';

export const PER_PAGE = 24;

/**
 * showVideoList loads one page with fetchPage(start, count) → {total, data}
 * and renders it into #videos, with a pager and an empty-state message.
 */
export async function showVideoList({ fetchPage, empty, hrefFor }) {
  const list = document.getElementById('videos');
  const status = document.getElementById('status');
  const pager = document.getElementById('pager');
  const page = pageParam();
  list.setAttribute('aria-busy', 'true');
  try {
    const res = await fetchPage((page - 1) * PER_PAGE, PER_PAGE);
    const videos = (res && res.data) || [];
    clear(list);
    if (videos.length === 0) {
      list.append(el('li', { class: 'empty' }, page > 1 ? 'No more videos.' : empty));
    } else {
      list.append(...videos.map(videoCard));
    }
    renderPager(pager, { page, perPage: PER_PAGE, total: (res && res.total) || 0, hrefFor });
    showMessage(status, '');
    return res;
  } catch (err) {
    showError(status, err, 'The videos could not be loaded');
    return null;
  } finally {
    list.setAttribute('aria-busy', 'false');
  }
}
