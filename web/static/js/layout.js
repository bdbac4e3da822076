// layout.js: the parts of the shared header every page has: the user menu
// (log in / register, or the user's name, admin link and log out) and the
// search box keeping the current query.
import { me, logout, pod, hasRight } from './api.js';
import { el, clear, append } from './ui.js';

/**
 * initLayout fills the header and resolves to the current user (or null).
 * It never throws: a failing /users/me leaves the visitor view.
 */
export async function initLayout() {
  const q = new URLSearchParams(location.search).get('q');
  const search = document.getElementById('site-search');
  if (search && q && document.body.dataset.page === 'search') search.value = q;

  const podInfo = pod().catch(() => null);
  podInfo.then((info) => {
    const span = document.getElementById('pod-name');
    if (span && info && info.name) span.textContent = `This pod: ${info.name}.`;
  });

  const menu = document.getElementById('user-menu');
  let user = null;
  try {
    user = await me();
  } catch (err) {
    console.warn('users/me:', err);
  }
  if (!menu) return user;
  clear(menu);
  const here = encodeURIComponent(location.pathname + location.search);
  if (!user) {
    const onAuthPage = ['login', 'register'].includes(document.body.dataset.page);
    // A pod that takes no new accounts offers no way to register.
    const info = await podInfo;
    const open = !info || info.open_registration !== false;
    append(menu,
      el('a', { class: 'button', href: onAuthPage ? '/login' : `/login?next=${here}`, id: 'nav-login' }, 'Log in'),
      open ? el('a', { class: 'button', href: '/register', id: 'nav-register' }, 'Register') : null);
    return null;
  }
  const out = el('button', { class: 'button', type: 'button', id: 'nav-logout', title: `Log out ${user.username}` }, 'Log out');
  out.addEventListener('click', async () => {
    out.disabled = true;
    try {
      await logout();
    } catch (err) {
      console.warn('logout:', err); // the cookie may be gone already; leave anyway
    }
    location.assign('/');
  });
  append(menu,
    el('a', { class: 'user-name', href: '/account', title: `Your account: ${user.username}`, id: 'nav-user' }, user.username),
    hasRight(user, 'admin')
      ? el('a', { class: 'button', href: '/admin', id: 'nav-admin' }, 'Admin') : null,
    out);
  return user;
}
