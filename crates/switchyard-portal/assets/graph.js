// A run drawn as a graph: its nodes (steps, DAG tasks, groups, retries) left to right in
// layers, edges from each node to its children, each node coloured by its phase.
//
// Built to stay smooth for runs of hundreds of nodes:
// - the layout (`layout`, a pure function) is a layered drawing in O((V + E) log V): layers
//   by longest path in topological order, then two barycenter sweeps to untangle edges; it
//   is computed again only when nodes or edges are added, never for a phase change;
// - the renderer keeps one SVG group per node in a Map and, on each update, touches only
//   the nodes whose phase, label or position changed; a running node's clock is one text
//   node updated once a second for the running nodes alone.

import { svg } from './dom.js';
import { elapsed, phaseLabel, tone } from './format.js';

export const NODE_W = 196;
export const NODE_H = 44;
const GAP_X = 56;
const GAP_Y = 14;
const MARGIN = 24;

// Node types drawn as small junctions rather than boxes: they group other nodes.
const JUNCTIONS = new Set(['StepGroup', 'TaskGroup']);

/**
 * Places nodes in layers. `nodes` is `[{id, children: [id]}]`; returns
 * `{positions: Map(id → {x, y, layer}), edges: [[from, to]], width, height}`.
 */
export function layout(nodes) {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const out = nodes.map(() => []);
  const inn = nodes.map(() => []);
  const edges = [];
  nodes.forEach((n, i) => {
    for (const c of n.children || []) {
      const j = index.get(c);
      if (j === undefined || j === i) continue;
      out[i].push(j);
      inn[j].push(i);
      edges.push([n.id, c]);
    }
  });

  // Layers: longest path from a root, in topological order (Kahn). Nodes on a cycle (the
  // engine never makes one, but a graph must not hang on bad data) go after the rest.
  const layer = new Array(nodes.length).fill(0);
  const indegree = inn.map((p) => p.length);
  const queue = [];
  indegree.forEach((d, i) => { if (d === 0) queue.push(i); });
  const order = [];
  for (let q = 0; q < queue.length; q++) {
    const i = queue[q];
    order.push(i);
    for (const j of out[i]) {
      layer[j] = Math.max(layer[j], layer[i] + 1);
      if (--indegree[j] === 0) queue.push(j);
    }
  }
  if (order.length < nodes.length) {
    const deepest = order.reduce((m, i) => Math.max(m, layer[i]), 0);
    const placed = new Set(order);
    nodes.forEach((_, i) => {
      if (!placed.has(i)) {
        layer[i] = deepest + 1;
        order.push(i);
      }
    });
  }

  // First order within layers: depth-first from the roots, so siblings start together.
  const rank = new Array(nodes.length).fill(-1);
  let next = 0;
  const visit = (start) => {
    const stack = [start];
    while (stack.length) {
      const i = stack.pop();
      if (rank[i] >= 0) continue;
      rank[i] = next++;
      for (let k = out[i].length - 1; k >= 0; k--) if (rank[out[i][k]] < 0) stack.push(out[i][k]);
    }
  };
  order.forEach((i) => { if (inn[i].length === 0) visit(i); });
  order.forEach((i) => { if (rank[i] < 0) visit(i); });

  const depth = layer.reduce((m, l) => Math.max(m, l), 0) + 1;
  const layers = Array.from({ length: depth }, () => []);
  nodes.forEach((_, i) => layers[layer[i]].push(i));
  layers.forEach((l) => l.sort((a, b) => rank[a] - rank[b]));

  // Barycenter sweeps: each node moves towards the mean position of its neighbours in the
  // layers already placed (parents going right, children going back left).
  const pos = new Float64Array(nodes.length);
  const place = () => layers.forEach((l) => l.forEach((i, k) => { pos[i] = k - (l.length - 1) / 2; }));
  place();
  const sweep = (neighbours, from, to, step) => {
    for (let d = from; d !== to; d += step) {
      const l = layers[d];
      const key = new Float64Array(nodes.length);
      for (const i of l) {
        const ns = neighbours[i];
        key[i] = ns.length ? ns.reduce((s, j) => s + pos[j], 0) / ns.length : pos[i];
      }
      l.sort((a, b) => key[a] - key[b] || rank[a] - rank[b]);
      l.forEach((i, k) => { pos[i] = k - (l.length - 1) / 2; });
    }
  };
  for (let round = 0; round < 2; round++) {
    sweep(inn, 1, depth, 1);
    sweep(out, depth - 2, -1, -1);
  }
  sweep(inn, 1, depth, 1);

  const tallest = layers.reduce((m, l) => Math.max(m, l.length), 1);
  const pitch = NODE_H + GAP_Y;
  const positions = new Map();
  layers.forEach((l, d) => {
    const offset = ((tallest - l.length) * pitch) / 2;
    l.forEach((i, k) => {
      positions.set(nodes[i].id, { x: MARGIN + d * (NODE_W + GAP_X), y: MARGIN + offset + k * pitch, layer: d });
    });
  });
  return {
    positions,
    edges,
    width: MARGIN * 2 + depth * NODE_W + (depth - 1) * GAP_X,
    height: MARGIN * 2 + tallest * pitch - GAP_Y,
  };
}

/** A label that fits a node: long names keep their start and end. */
function fit(text, max = 24) {
  const s = String(text);
  return s.length <= max ? s : `${s.slice(0, max - 9)}…${s.slice(-8)}`;
}

/** What a node's second line says. */
function meta(node, now) {
  const phase = node.type === 'Suspend' && node.phase === 'Running' ? 'Waiting' : phaseLabel(node.phase);
  const time = node.startedAt ? elapsed(node.startedAt, node.finishedAt, now) : '';
  return time ? `${phase} · ${time}` : phase;
}

function nodeTone(node) {
  if (node.type === 'Suspend' && node.phase === 'Running') return 'wait';
  return tone(node.phase || 'Pending');
}

/** The drawing of a run; `update(status.nodes)` as often as the run changes. */
export class RunGraph {
  constructor(container, { onSelect }) {
    this.onSelect = onSelect;
    this.items = new Map(); // id → {g, meta, node, key, x, y}
    this.running = new Set();
    this.shape = '';
    this.scale = 1;
    // Until the reader zooms, a wide run is scaled to fit (never below readable).
    this.autoFit = true;
    this.selected = null;
    this.edgeLayer = svg('g', { class: 'edges' });
    this.nodeLayer = svg('g', { class: 'nodes' });
    this.svg = svg('svg', { class: 'graph', role: 'group', 'aria-label': 'Run graph' }, this.edgeLayer, this.nodeLayer);
    container.append(this.svg);
    // One listener for every node: a run of 500 nodes needs no 500 listeners.
    const pick = (e) => {
      const g = e.target.closest?.('.gnode');
      if (g) this.select(g.dataset.id, true);
    };
    this.svg.addEventListener('click', pick);
    this.svg.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        pick(e);
      }
    });
  }

  /** Draws `nodes` (a run's `status.nodes`), changing only what changed. */
  update(nodesById, now = Date.now()) {
    // Timed as `graph.update` in the browser's performance timeline (devtools show it).
    const started = performance.now();
    const nodes = Object.values(nodesById || {});
    // The shape is the set of nodes and their children: when it changes, lay out again.
    let shape = `${nodes.length}`;
    for (const n of nodes) shape += `|${n.id}:${(n.children || []).length}`;
    if (shape !== this.shape) {
      this.shape = shape;
      this.relayout(nodes);
    }
    for (const n of nodes) {
      const item = this.items.get(n.id);
      if (!item) continue;
      item.node = n;
      const key = `${n.phase}|${n.type}|${n.displayName}|${n.startedAt}|${n.finishedAt}`;
      if (key === item.key) continue;
      item.key = key;
      this.paint(item, now);
    }
    performance.measure('graph.update', { start: started, detail: { nodes: nodes.length } });
  }

  relayout(nodes) {
    const { positions, edges, width, height } = layout(nodes);
    this.width = width;
    this.height = height;
    if (this.autoFit) this.scale = Math.max(this.fitScale(), 0.6);
    this.applyScale();
    const seen = new Set();
    for (const n of nodes) {
      seen.add(n.id);
      const p = positions.get(n.id);
      let item = this.items.get(n.id);
      if (!item) {
        item = this.create(n);
        this.items.set(n.id, item);
        this.nodeLayer.append(item.g);
      }
      if (item.x !== p.x || item.y !== p.y) {
        item.x = p.x;
        item.y = p.y;
        item.g.setAttribute('transform', `translate(${p.x},${p.y})`);
      }
    }
    for (const [id, item] of this.items) {
      if (!seen.has(id)) {
        item.g.remove();
        this.items.delete(id);
        this.running.delete(id);
      }
    }
    // Edges are redrawn whole when the shape changes: one path each, built off-document.
    const paths = [];
    for (const [from, to] of edges) {
      const a = this.items.get(from);
      const b = this.items.get(to);
      if (!a || !b) continue;
      const x1 = a.x + (a.junction ? NODE_H / 2 + 8 : NODE_W);
      const y1 = a.y + NODE_H / 2;
      const x2 = b.x + (b.junction ? NODE_H / 2 - 8 : 0);
      const y2 = b.y + NODE_H / 2;
      const bend = Math.max(24, (x2 - x1) / 2);
      paths.push(svg('path', { d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`, 'data-to': to }));
    }
    this.edgeLayer.replaceChildren(...paths);
  }

  create(n) {
    const junction = JUNCTIONS.has(n.type);
    const g = svg('g', { class: 'gnode', 'data-id': n.id, tabindex: '0', role: 'button' });
    const title = svg('title');
    g.append(title);
    const item = { g, title, junction, key: '', x: NaN, y: NaN, node: n };
    if (junction) {
      g.classList.add('junction');
      g.append(svg('circle', { class: 'gbox', cx: NODE_H / 2, cy: NODE_H / 2, r: 8 }));
      return item;
    }
    g.append(
      svg('rect', { class: 'gbox', width: NODE_W, height: NODE_H, rx: 9 }),
      svg('rect', { class: 'gband', width: 5, height: NODE_H - 12, x: 6, y: 6, rx: 2.5 }));
    item.name = svg('text', { class: 'gname', x: 20, y: 19 });
    item.meta = svg('text', { class: 'gmeta', x: 20, y: 34 });
    g.append(item.name, item.meta);
    return item;
  }

  paint(item, now) {
    const n = item.node;
    const t = nodeTone(n);
    item.g.setAttribute('class', ['gnode', `tone-${t}`, `type-${n.type || 'Pod'}`,
      item.junction ? 'junction' : '', this.selected === n.id ? 'selected' : ''].filter(Boolean).join(' '));
    const label = `${n.displayName || n.name || n.id}: ${meta(n, now)}`;
    item.g.setAttribute('aria-label', label);
    item.title.textContent = label;
    if (item.name) {
      item.name.textContent = fit(n.displayName || n.name || n.id);
      item.meta.textContent = meta(n, now);
    }
    if (n.phase === 'Running' && !n.finishedAt) this.running.add(n.id);
    else this.running.delete(n.id);
  }

  /** Moves the running nodes' clocks on (called once a second). */
  tick(now = Date.now()) {
    for (const id of this.running) {
      const item = this.items.get(id);
      if (item?.meta) item.meta.textContent = meta(item.node, now);
    }
  }

  select(id, fromUser = false) {
    if (this.selected === id) return;
    const before = this.items.get(this.selected);
    before?.g.classList.remove('selected');
    this.selected = id;
    const item = this.items.get(id);
    item?.g.classList.add('selected');
    if (fromUser) this.onSelect?.(id);
  }

  /** Scrolls the selected node into view. */
  reveal(id) {
    const item = this.items.get(id);
    if (!item) return;
    const box = this.svg.parentElement;
    box.scrollTo({
      left: Math.max(0, item.x * this.scale - box.clientWidth / 3),
      top: Math.max(0, item.y * this.scale - box.clientHeight / 3),
      behavior: 'smooth',
    });
  }

  zoom(factor) {
    this.autoFit = false;
    this.scale = factor === 0 ? this.fitScale() : Math.min(2, Math.max(0.25, this.scale * factor));
    this.applyScale();
  }

  /** The scale at which the graph's width fits its box (tall graphs scroll down). */
  fitScale() {
    const box = this.svg.parentElement;
    if (!box || !this.width) return 1;
    return Math.min(1, Math.max(0.25, box.clientWidth / this.width));
  }

  applyScale() {
    this.svg.setAttribute('viewBox', `0 0 ${this.width} ${this.height}`);
    this.svg.setAttribute('width', String(Math.ceil(this.width * this.scale)));
    this.svg.setAttribute('height', String(Math.ceil(this.height * this.scale)));
  }
}
