/**
 * A layered ("Sugiyama-style") layout of an n8n workflow, computed from its `connections` alone: the
 * positions the designer wrote are only a tie-breaker. Pure and deterministic (the same JSON gives the
 * same picture), so it is unit-tested and drawn as plain SVG without a graph library.
 *
 * 1. edges from `connections` (every connection type: main, ai_tool, …); ones to a missing node are kept
 *    apart (`dangling`) for the validation to name;
 * 2. back edges of loops found by a depth-first walk from the triggers, and left out of the layering;
 * 3. each node's layer = the longest path to it from a node without inputs;
 * 4. within a layer, nodes ordered by the mean place of their neighbours (a few sweeps down and up);
 * 5. boxes on a grid, each layer centred; edges as cubic curves, back edges looping underneath.
 */

export interface N8nNode {
  name: string;
  type: string;
  typeVersion?: number;
  position?: [number, number];
  disabled?: boolean;
  parameters?: unknown;
  credentials?: Record<string, unknown>;
}

export interface N8nTarget {
  node: string;
  type?: string;
  index?: number;
}

export interface N8nWorkflow {
  name?: string;
  nodes: N8nNode[];
  connections: Record<string, Record<string, (N8nTarget[] | null)[]>>;
}

export interface LaidNode {
  name: string;
  type: string;
  /** The type without its package (`n8n-nodes-base.slack` → `slack`). */
  shortType: string;
  trigger: boolean;
  disabled: boolean;
  layer: number;
  x: number;
  y: number;
}

export interface LaidEdge {
  from: string;
  to: string;
  /** The connection type (`main`, `ai_languageModel`, …). */
  kind: string;
  output: number;
  back: boolean;
  path: string;
}

export interface Layout {
  nodes: LaidNode[];
  edges: LaidEdge[];
  dangling: { from: string; to: string; kind: string }[];
  width: number;
  height: number;
}

export const NODE_WIDTH = 184;
export const NODE_HEIGHT = 56;
const GAP_X = 72; // between layers, left to right
const GAP_Y = 28; // between nodes of a layer, left to right
const ROW_GAP = 48; // between layers, top to bottom
const ROW_NODE_GAP = 20; // between nodes of a layer, top to bottom
const MARGIN = 16;
const LOOP_DROP = 36;

/** `right`: layers as columns (wide screens); `down`: layers as rows (narrow screens). */
export type Direction = "right" | "down";

const TRIGGER_TYPES = new Set(["webhook", "cron", "interval", "start", "emailReadImap", "rssFeedReadTrigger"]);

export function shortType(type: string): string {
  const dot = type.lastIndexOf(".");
  return dot === -1 ? type : type.slice(dot + 1);
}

export function isTrigger(type: string): boolean {
  const base = shortType(type);
  return /trigger$/i.test(base) || TRIGGER_TYPES.has(base);
}

/** The n8n JSON of a revision, or null when it is not one (sealed, shredded, malformed). */
export function parseWorkflow(definition: string): N8nWorkflow | null {
  let value: unknown;
  try {
    value = JSON.parse(definition);
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object") return null;
  const record = value as Record<string, unknown>;
  if (!Array.isArray(record.nodes)) return null;
  const nodes = record.nodes.filter(
    (n): n is N8nNode =>
      n !== null && typeof n === "object" && typeof (n as N8nNode).name === "string" && typeof (n as N8nNode).type === "string",
  );
  const connections =
    record.connections !== null && typeof record.connections === "object"
      ? (record.connections as N8nWorkflow["connections"])
      : {};
  return { ...(typeof record.name === "string" ? { name: record.name } : {}), nodes, connections };
}

interface Edge {
  from: number;
  to: number;
  kind: string;
  output: number;
}

function collectEdges(workflow: N8nWorkflow, index: Map<string, number>): { edges: Edge[]; dangling: Layout["dangling"] } {
  const edges: Edge[] = [];
  const dangling: Layout["dangling"] = [];
  for (const source of Object.keys(workflow.connections).sort()) {
    const byKind = workflow.connections[source];
    if (byKind === null || typeof byKind !== "object") continue;
    for (const kind of Object.keys(byKind).sort()) {
      const outputs = byKind[kind];
      if (!Array.isArray(outputs)) continue;
      outputs.forEach((targets, output) => {
        if (!Array.isArray(targets)) return;
        for (const target of targets) {
          if (target === null || typeof target !== "object" || typeof target.node !== "string") continue;
          const from = index.get(source);
          const to = index.get(target.node);
          if (from === undefined || to === undefined) {
            dangling.push({ from: source, to: target.node, kind });
          } else {
            edges.push({ from, to, kind, output });
          }
        }
      });
    }
  }
  return { edges, dangling };
}

/** Edges that close a loop, found by a depth-first walk (triggers first, then nodes without inputs). */
function backEdges(count: number, edges: Edge[], roots: number[]): Set<Edge> {
  const out: Edge[][] = Array.from({ length: count }, () => []);
  for (const e of edges) out[e.from]?.push(e);
  const state = new Uint8Array(count); // 0 new, 1 on the path, 2 done
  const back = new Set<Edge>();
  const visit = (start: number): void => {
    // iterative, so a long chain of nodes cannot overflow the call stack
    const stack: { node: number; next: number }[] = [{ node: start, next: 0 }];
    state[start] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top === undefined) break;
      const list = out[top.node] ?? [];
      if (top.next >= list.length) {
        state[top.node] = 2;
        stack.pop();
        continue;
      }
      const edge = list[top.next++];
      if (edge === undefined) continue;
      if (state[edge.to] === 1) back.add(edge);
      else if (state[edge.to] === 0) {
        state[edge.to] = 1;
        stack.push({ node: edge.to, next: 0 });
      }
    }
  };
  for (const root of roots) if (state[root] === 0) visit(root);
  for (let n = 0; n < count; n++) if (state[n] === 0) visit(n);
  return back;
}

export function layoutWorkflow(workflow: N8nWorkflow, direction: Direction = "right"): Layout {
  const nodes = workflow.nodes;
  const count = nodes.length;
  const index = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (!index.has(n.name)) index.set(n.name, i);
  });
  const { edges, dangling } = collectEdges(workflow, index);
  const trigger = nodes.map((n) => isTrigger(n.type));
  const indegree = new Array<number>(count).fill(0);
  for (const e of edges) indegree[e.to] = (indegree[e.to] ?? 0) + 1;
  const byPlace = (a: number, b: number): number => {
    const pa = nodes[a]?.position ?? [0, 0];
    const pb = nodes[b]?.position ?? [0, 0];
    return pa[1] - pb[1] || pa[0] - pb[0] || (nodes[a]?.name ?? "").localeCompare(nodes[b]?.name ?? "") || a - b;
  };
  const all = Array.from({ length: count }, (_, i) => i);
  const roots = [
    ...all.filter((i) => trigger[i]).sort(byPlace),
    ...all.filter((i) => !trigger[i] && indegree[i] === 0).sort(byPlace),
  ];
  const back = backEdges(count, edges, roots);
  const forward = edges.filter((e) => !back.has(e) && e.from !== e.to);

  // Longest-path layering over the acyclic edges (Kahn's order).
  const layer = new Array<number>(count).fill(0);
  const remaining = new Array<number>(count).fill(0);
  const succ: number[][] = Array.from({ length: count }, () => []);
  const pred: number[][] = Array.from({ length: count }, () => []);
  for (const e of forward) {
    remaining[e.to] = (remaining[e.to] ?? 0) + 1;
    succ[e.from]?.push(e.to);
    pred[e.to]?.push(e.from);
  }
  const queue = all.filter((i) => remaining[i] === 0).sort(byPlace);
  for (let head = 0; head < queue.length; head++) {
    const u = queue[head] ?? 0;
    for (const v of succ[u] ?? []) {
      layer[v] = Math.max(layer[v] ?? 0, (layer[u] ?? 0) + 1);
      remaining[v] = (remaining[v] ?? 0) - 1;
      if (remaining[v] === 0) queue.push(v);
    }
  }
  // A node that only feeds a later one (an AI model into an agent) sits just before it, not at the start.
  for (let i = queue.length - 1; i >= 0; i--) {
    const u = queue[i] ?? 0;
    if ((pred[u] ?? []).length === 0 && !trigger[u] && (succ[u] ?? []).length > 0) {
      layer[u] = Math.min(...(succ[u] ?? []).map((v) => (layer[v] ?? 1) - 1));
    }
  }

  const layerCount = count === 0 ? 0 : Math.max(...layer) + 1;
  const layers: number[][] = Array.from({ length: layerCount }, () => []);
  for (const i of all.slice().sort(byPlace)) layers[layer[i] ?? 0]?.push(i);
  const place = new Array<number>(count).fill(0);
  const renumber = (): void => layers.forEach((l) => l.forEach((n, k) => (place[n] = k)));
  renumber();
  const mean = (list: number[], fallback: number): number =>
    list.length === 0 ? fallback : list.reduce((s, n) => s + (place[n] ?? 0), 0) / list.length;
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? layers.slice(1) : layers.slice(0, -1).reverse();
    for (const l of order) {
      const key = new Map(l.map((n) => [n, mean(down ? (pred[n] ?? []) : (succ[n] ?? []), place[n] ?? 0)]));
      l.sort((a, b) => (key.get(a) ?? 0) - (key.get(b) ?? 0) || (place[a] ?? 0) - (place[b] ?? 0));
      l.forEach((n, k) => (place[n] = k));
    }
  }
  renumber();

  const outputsOf = new Map<string, number>();
  for (const e of edges) {
    const key = `${e.from}/${e.kind}`;
    outputsOf.set(key, Math.max(outputsOf.get(key) ?? 1, e.output + 1));
  }
  const widest = Math.max(0, ...layers.map((l) => l.length));
  const place_ = (i: number): number => place[i] ?? 0;
  const layerOf = (i: number): number => layer[i] ?? 0;
  return direction === "right"
    ? placeRight(nodes, all, layers, layerOf, place_, trigger, edges, back, outputsOf, widest, dangling)
    : placeDown(nodes, all, layers, layerOf, place_, trigger, edges, back, outputsOf, widest, dangling);
}

function laidNode(node: N8nNode, layer: number, trigger: boolean, x: number, y: number): LaidNode {
  return {
    name: node.name,
    type: node.type,
    shortType: shortType(node.type),
    trigger,
    disabled: node.disabled === true,
    layer,
    x,
    y,
  };
}

function placeRight(
  nodes: N8nNode[],
  all: number[],
  layers: number[][],
  layerOf: (i: number) => number,
  placeOf: (i: number) => number,
  trigger: boolean[],
  edges: Edge[],
  back: Set<Edge>,
  outputsOf: Map<string, number>,
  widest: number,
  dangling: Layout["dangling"],
): Layout {
  const columnHeight = (n: number): number => (n === 0 ? 0 : n * NODE_HEIGHT + (n - 1) * GAP_Y);
  const bodyHeight = columnHeight(widest);
  const laid = all.map((i) => {
    const l = layerOf(i);
    const top = MARGIN + (bodyHeight - columnHeight((layers[l] ?? []).length)) / 2;
    return laidNode(nodes[i] as N8nNode, l, trigger[i] ?? false, MARGIN + l * (NODE_WIDTH + GAP_X), top + placeOf(i) * (NODE_HEIGHT + GAP_Y));
  });
  let loops = 0;
  const laidEdges: LaidEdge[] = edges.map((e) => {
    const a = laid[e.from] as LaidNode;
    const b = laid[e.to] as LaidNode;
    const outputs = outputsOf.get(`${e.from}/${e.kind}`) ?? 1;
    const sx = a.x + NODE_WIDTH;
    const sy = a.y + (NODE_HEIGHT * (e.output + 1)) / (outputs + 1);
    const ex = b.x;
    const ey = b.y + NODE_HEIGHT / 2;
    const isBack = back.has(e) || e.from === e.to || ex <= sx;
    let path: string;
    if (!isBack) {
      const dx = Math.max(24, (ex - sx) / 2);
      path = `M${sx} ${sy} C${sx + dx} ${sy} ${ex - dx} ${ey} ${ex} ${ey}`;
    } else {
      loops += 1;
      const low = Math.max(a.y, b.y) + NODE_HEIGHT + LOOP_DROP * loops;
      path = `M${sx} ${sy} C${sx + 48} ${sy} ${sx + 48} ${low} ${(sx + ex) / 2} ${low} S${ex - 48} ${ey} ${ex} ${ey}`;
    }
    return { from: a.name, to: b.name, kind: e.kind, output: e.output, back: isBack, path };
  });
  const count = layers.length;
  const width = count === 0 ? 0 : MARGIN * 2 + count * NODE_WIDTH + (count - 1) * GAP_X;
  const height = laid.length === 0 ? 0 : MARGIN * 2 + bodyHeight + (loops > 0 ? NODE_HEIGHT / 2 + LOOP_DROP * loops : 0);
  return { nodes: laid, edges: laidEdges, dangling, width, height };
}

function placeDown(
  nodes: N8nNode[],
  all: number[],
  layers: number[][],
  layerOf: (i: number) => number,
  placeOf: (i: number) => number,
  trigger: boolean[],
  edges: Edge[],
  back: Set<Edge>,
  outputsOf: Map<string, number>,
  widest: number,
  dangling: Layout["dangling"],
): Layout {
  const rowWidth = (n: number): number => (n === 0 ? 0 : n * NODE_WIDTH + (n - 1) * ROW_NODE_GAP);
  const bodyWidth = rowWidth(widest);
  const laid = all.map((i) => {
    const l = layerOf(i);
    const left = MARGIN + (bodyWidth - rowWidth((layers[l] ?? []).length)) / 2;
    return laidNode(nodes[i] as N8nNode, l, trigger[i] ?? false, left + placeOf(i) * (NODE_WIDTH + ROW_NODE_GAP), MARGIN + l * (NODE_HEIGHT + ROW_GAP));
  });
  let loops = 0;
  const laidEdges: LaidEdge[] = edges.map((e) => {
    const a = laid[e.from] as LaidNode;
    const b = laid[e.to] as LaidNode;
    const outputs = outputsOf.get(`${e.from}/${e.kind}`) ?? 1;
    const sx = a.x + (NODE_WIDTH * (e.output + 1)) / (outputs + 1);
    const sy = a.y + NODE_HEIGHT;
    const ex = b.x + NODE_WIDTH / 2;
    const ey = b.y;
    const isBack = back.has(e) || e.from === e.to || ey <= sy;
    let path: string;
    if (!isBack) {
      const dy = Math.max(16, (ey - sy) / 2);
      path = `M${sx} ${sy} C${sx} ${sy + dy} ${ex} ${ey - dy} ${ex} ${ey}`;
    } else {
      loops += 1;
      const right = MARGIN + bodyWidth + (LOOP_DROP / 2) * loops;
      const ay = a.y + NODE_HEIGHT / 2;
      const by = b.y + NODE_HEIGHT / 2;
      path = `M${a.x + NODE_WIDTH} ${ay} C${right} ${ay} ${right} ${by} ${b.x + NODE_WIDTH} ${by}`;
    }
    return { from: a.name, to: b.name, kind: e.kind, output: e.output, back: isBack, path };
  });
  const count = layers.length;
  const width = laid.length === 0 ? 0 : MARGIN * 2 + bodyWidth + (loops > 0 ? (LOOP_DROP / 2) * loops + 8 : 0);
  const height = count === 0 ? 0 : MARGIN * 2 + count * NODE_HEIGHT + (count - 1) * ROW_GAP;
  return { nodes: laid, edges: laidEdges, dangling, width, height };
}
