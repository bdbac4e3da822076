// The embeddable player (/videos/{id}/embed): the same player as the watch
// page (peer to peer, or the web seed when that cannot run), with a small
// overlay saying how many peers share it and how much came from them.
import { getVideo } from '../api.js';
import { $, showError, formatBytes } from '../ui.js';
import { openPlayer, prepareEngine } from '../player.js';

const id = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] || '');
const box = $('#player');
const overlay = $('#embed-stats');

async function main() {
  prepareEngine();
  const video = await getVideo(id);
  const session = await openPlayer(video, box);
  box.setAttribute('aria-busy', 'false');
  const tick = () => {
    let s;
    try {
      s = session.stats();
    } catch {
      return;
    }
    const total = s.fromPeers + s.fromPod;
    const share = total > 0 ? ` · ${Math.round((s.fromPeers / total) * 100)}% from peers` : '';
    overlay.textContent = `${s.peers} ${s.peers === 1 ? 'peer' : 'peers'}${share} · ${formatBytes(s.fromPeers)} shared`;
  };
  tick();
  const timer = setInterval(tick, 1000);
  // Tell the embedding page how playback goes, as video players' iframe
  // APIs do: {type: "swarmtube:state", state, currentTime, duration, id}.
  // Nothing private: the same as anyone sees in the frame.
  if (window.parent !== window) {
    const media = box.querySelector('video');
    const post = (ev) => window.parent.postMessage({
      type: 'swarmtube:state', state: ev.type, id: video.id,
      currentTime: media.currentTime, duration: media.duration || 0,
    }, '*');
    for (const type of ['playing', 'pause', 'ended', 'timeupdate', 'error']) media.addEventListener(type, post);
  }
  window.addEventListener('pagehide', () => { clearInterval(timer); session.destroy(); }, { once: true });
}

main().catch((err) => showError($('#status'), err, 'The video could not be loaded'));
