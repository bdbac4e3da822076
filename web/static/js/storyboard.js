// storyboard.js: previews while scrubbing. Over the bottom band of the
// player, where the browser draws its seek bar, a tile of the video's
// storyboard sprite shows the frame at the time under the pointer, with
// that time. The storyboard is the pod's JSON (API.md, storyboard_url):
// {sprite (relative to it), tile_width, tile_height, columns, rows, count,
// interval}; tile i shows about i × interval seconds.
import { el, safeURL } from './ui.js';

// BAND is the height, in CSS pixels, of the strip at the bottom of the
// video where the pointer previews (the native controls' seek bar sits
// there); PAD the seek bar's inset from each side.
const BAND = 64;
const PAD = 16;

/** formatTime: 65 → "1:05", 3723 → "1:02:03". */
export function formatTime(secs) {
  const s = Math.max(0, Math.floor(Number(secs) || 0));
  const two = (n) => String(n).padStart(2, '0');
  if (s >= 3600) return `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
  return `${Math.floor(s / 60)}:${two(s % 60)}`;
}

/**
 * attachStoryboard loads the storyboard at url and shows its tiles over
 * media (inside box, which is positioned) while the pointer moves along
 * the bottom band. It resolves to a detach function, or null when the
 * video has no usable storyboard (the player works as before).
 */
export async function attachStoryboard(media, box, url) {
  const src = url && safeURL(url);
  if (!src) return null;
  let sb;
  try {
    const res = await fetch(src, { credentials: 'omit' });
    if (!res.ok) return null;
    sb = await res.json();
  } catch {
    return null;
  }
  const spriteURL = sb && typeof sb.sprite === 'string' ? safeURL(new URL(sb.sprite, src).href) : '';
  const tw = Number(sb.tile_width), th = Number(sb.tile_height), cols = Number(sb.columns);
  const count = Number(sb.count), interval = Number(sb.interval);
  if (!spriteURL || !(tw > 0 && th > 0 && cols > 0 && count > 0 && interval > 0)) return null;

  const time = el('span', {});
  const tile = el('div', { class: 'storyboard-tile', id: 'storyboard-tile', 'aria-hidden': 'true', hidden: true }, time);
  tile.style.width = `${tw}px`;
  tile.style.height = `${th}px`;
  tile.style.backgroundImage = `url("${spriteURL.replace(/["\\\n]/g, encodeURIComponent)}")`;
  box.append(tile);
  new Image().src = spriteURL; // fetch it now, not at the first hover

  const hide = () => { tile.hidden = true; };
  const move = (ev) => {
    const r = media.getBoundingClientRect();
    if (ev.clientY < r.bottom - BAND || ev.clientY > r.bottom || r.width <= 2 * PAD) {
      hide();
      return;
    }
    const duration = Number.isFinite(media.duration) && media.duration > 0 ? media.duration : count * interval;
    const f = Math.min(1, Math.max(0, (ev.clientX - r.left - PAD) / (r.width - 2 * PAD)));
    const t = f * duration;
    const i = Math.min(count - 1, Math.floor(t / interval));
    tile.style.backgroundPosition = `${-(i % cols) * tw}px ${-Math.floor(i / cols) * th}px`;
    const boxR = box.getBoundingClientRect();
    const x = Math.min(boxR.width - tw - 4, Math.max(4, ev.clientX - boxR.left - tw / 2));
    tile.style.left = `${x}px`;
    time.textContent = formatTime(t);
    tile.dataset.tile = String(i);
    tile.hidden = false;
  };
  media.addEventListener('pointermove', move);
  media.addEventListener('pointerleave', hide);
  return () => {
    media.removeEventListener('pointermove', move);
    media.removeEventListener('pointerleave', hide);
    tile.remove();
  };
}
