// ui.js: DOM helpers. Text always goes in through textContent (el's string
// children become Text nodes), so user-provided data can never become markup.

/**
 * el builds an element: el('a', {href: '/x', class: 'c'}, 'text', child).
 * Attributes named on* are refused: handlers are attached with
 * addEventListener, never from data.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (/^on/i.test(k)) throw new Error(`el: refusing event attribute ${k}`);
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k === 'style') for (const [p, pv] of Object.entries(v)) node.style.setProperty(p, pv);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  append(node, ...children);
  return node;
}

/** append adds children (nodes, strings as text, arrays, nullish skipped). */
export function append(node, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** clear removes every child of node. */
export function clear(node) {
  node.replaceChildren();
  return node;
}

/** $ finds one element by CSS selector (throws when missing: a page bug). */
export function $(sel, root = document) {
  const n = root.querySelector(sel);
  if (!n) throw new Error(`missing element ${sel}`);
  return n;
}

/** svg builds an SVG element (namespaced). */
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c);
  return node;
}

/** showMessage puts a message in a status region; kind is 'error', 'ok' or ''. */
export function showMessage(region, text, kind = '', ...extra) {
  clear(region);
  if (text) region.append(el('p', { class: `message ${kind}`.trim() }, text, ...extra));
}

/** showError shows err's message (ApiError messages are written for people). */
export function showError(region, err, prefix = '') {
  console.error(err);
  const msg = (err && err.message) || String(err);
  showMessage(region, prefix ? `${prefix}: ${msg}` : msg, 'error');
}

/** safeURL returns u when it is an http(s) URL (or one of extraSchemes), else ''. */
export function safeURL(u, extraSchemes = []) {
  try {
    const p = new URL(u, location.href);
    if (p.protocol === 'http:' || p.protocol === 'https:' || extraSchemes.includes(p.protocol)) return p.href;
  } catch { /* not a URL */ }
  return '';
}

// urlPattern finds http(s) URLs in plain text; trailing punctuation that
// usually ends a sentence is left out of the link.
const urlPattern = /https?:\/\/[^\s<>"]+/g;

/**
 * linkify appends text to node, turning the http(s) URLs in it into links
 * (rel "nofollow ugc noopener": the text is a user's) and leaving the rest
 * as text, so no markup can come from the text.
 */
export function linkify(node, text) {
  let last = 0;
  for (const m of String(text).matchAll(urlPattern)) {
    let u = m[0];
    const trail = /[).,;:!?'\]]+$/.exec(u);
    if (trail) u = u.slice(0, -trail[0].length);
    const href = safeURL(u);
    if (!href) continue;
    node.append(String(text).slice(last, m.index), el('a', { href, rel: 'nofollow ugc noopener' }, u));
    last = m.index + u.length;
  }
  node.append(String(text).slice(last));
}

const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/**
 * formatBytes writes a size in binary units, exactly as the pod's messages
 * do (server/videos sizeText): 512 → "512 B", 1536 → "1.5 KiB",
 * 5 << 20 → "5 MiB". One unit everywhere, so a limit reads the same on the
 * page and in the API's refusal.
 */
export function formatBytes(n) {
  n = Math.round(Number(n) || 0);
  if (Math.abs(n) < 1024) return `${n} B`;
  let v = n / 1024;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

/** formatRate: bytes per second. */
export const formatRate = (n) => `${formatBytes(n)}/s`;

/**
 * Transfer tells bytes, speed and time left from the samples of the last
 * five seconds, so the speed follows the connection and falls to 0 when
 * nothing moves: "3 MiB of 10 MiB · 1 MiB/s · 7 s left". now() is the
 * clock in milliseconds (performance.now; a test gives its own).
 */
export class Transfer {
  constructor(now = () => performance.now()) { this.samples = []; this.now = now; }
  add(loaded) {
    const now = this.now();
    this.samples.push([now, loaded]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 5000) this.samples.shift();
  }
  rate() {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }
  text(loaded, total) {
    const rate = this.rate();
    const parts = [`${formatBytes(loaded)} of ${formatBytes(total)}`];
    if (rate > 0) {
      parts.push(formatRate(rate));
      const left = Math.ceil((total - loaded) / rate);
      parts.push(left >= 120 ? `about ${Math.round(left / 60)} min left` : `${left} s left`);
    }
    return parts.join(' · ');
  }
}

/** formatDate: a short local date, or '' for a missing/zero time. */
export function formatDate(s) {
  const d = new Date(s);
  if (!s || Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return '';
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

/** timeAgo: "3 minutes ago". */
export function timeAgo(s) {
  const d = new Date(s);
  if (!s || Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return '';
  const secs = (d.getTime() - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  for (const [unit, size] of [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60]]) {
    if (Math.abs(secs) >= size) return rtf.format(Math.round(secs / size), unit);
  }
  return rtf.format(Math.round(secs), 'second');
}

/** podHost: "http://a.example:9000" → "a.example:9000". */
export function podHost(u) {
  try { return new URL(u).host; } catch { return String(u || ''); }
}

/** viewsText: 0 → '', 1 → "1 view", 1234 → "1,234 views". */
export function viewsText(n) {
  n = Number(n) || 0;
  if (n <= 0) return '';
  return `${n.toLocaleString('en')} ${n === 1 ? 'view' : 'views'}`;
}

/**
 * safeNext returns where to go after logging in: the absolute URL that
 * ?next= (or raw) resolves to when it is on this page's own origin, else
 * the home page. It resolves with the browser's own URL parser, the one a
 * navigation uses, so every trick that parser applies counts: tabs and
 * newlines dropped, leading spaces and control characters trimmed, "\" read
 * as "/", "//host" and "/\host" naming another host, other schemes
 * (javascript:, data:, https: on an http pod), percent-encoding already
 * decoded by URLSearchParams. Returning the resolved absolute URL (not the
 * raw text) means nothing is parsed twice.
 */
export function safeNext(raw = new URLSearchParams(location.search).get('next')) {
  if (!raw) return '/';
  let u;
  try {
    u = new URL(raw, location.origin);
  } catch {
    return '/';
  }
  if (u.origin !== location.origin || u.username || u.password) return '/';
  return u.href;
}

/** formReady enables a form's submit buttons once its module has bound it:
 * the HTML ships them disabled, so a form cannot be sent before (or
 * without) its script, which would put the fields in a URL. */
export function formReady(form) {
  for (const b of form.querySelectorAll('button[type=submit]')) b.disabled = false;
  form.dataset.ready = 'true';
}
