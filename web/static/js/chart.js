// chart.js: a small SVG chart of the bytes a viewer received from peers and
// from the pod, over the last minutes, as two stacked areas (peers on top).
import { svg, clear } from './ui.js';

const W = 300;
const H = 100;

/** BytesChart keeps the last `capacity` samples of cumulative byte counts. */
export class BytesChart {
  constructor(container, { capacity = 120 } = {}) {
    this.capacity = capacity;
    this.samples = [];
    this.pod = svg('path', { class: 'area-pod' });
    this.peers = svg('path', { class: 'area-peers' });
    this.root = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'Bytes from peers and from the pod' },
      this.pod, this.peers);
    clear(container).append(this.root);
  }

  /** push adds one sample of totals so far (bytes), and redraws. */
  push(fromPeers, fromPod) {
    this.samples.push({ peers: Math.max(0, fromPeers || 0), pod: Math.max(0, fromPod || 0) });
    if (this.samples.length > this.capacity) this.samples.shift();
    this.draw();
  }

  draw() {
    const s = this.samples;
    const max = Math.max(1, ...s.map((p) => p.peers + p.pod));
    // The time axis spans at least 20 samples, growing to capacity.
    const span = Math.max(20, s.length) - 1;
    const x = (i) => (i / span) * W;
    const y = (v) => H - (v / max) * (H - 4);
    const area = (top, bottom) => {
      if (s.length === 0) return '';
      const up = s.map((p, i) => `${x(i).toFixed(1)},${y(top(p)).toFixed(1)}`);
      const down = s.map((p, i) => `${x(i).toFixed(1)},${y(bottom(p)).toFixed(1)}`).reverse();
      return `M${up.join('L')}L${down.join('L')}Z`;
    };
    this.pod.setAttribute('d', area((p) => p.pod, () => 0));
    this.peers.setAttribute('d', area((p) => p.pod + p.peers, (p) => p.pod));
  }
}
