/**
 * A line diff of two texts (pretty-printed n8n JSON of two revisions): the common head and tail trimmed,
 * then a longest common subsequence of the middle. Workflows are a few hundred lines, so the quadratic
 * table stays small; past `MAX_CELLS` the middle is shown as removed then added, which is still true.
 */

export type DiffOp = "same" | "add" | "del";

export interface DiffLine {
  op: DiffOp;
  text: string;
  /** Line numbers in the old and the new text (1-based), where the line exists. */
  oldNo?: number;
  newNo?: number;
}

export interface Hunk {
  lines: DiffLine[];
  /** Unchanged lines left out before this hunk. */
  skippedBefore: number;
  /** On the last hunk: unchanged lines left out after it. */
  skippedAfter?: number;
}

const MAX_CELLS = 4_000_000;

export function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(/\r\n|\n|\r/);
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

export function lineDiff(oldText: string, newText: string): DiffLine[] {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;

  const out: DiffLine[] = [];
  for (let i = 0; i < head; i++) out.push({ op: "same", text: a[i] ?? "", oldNo: i + 1, newNo: i + 1 });
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  for (const line of middle(midA, midB)) {
    out.push({
      ...line,
      ...(line.oldNo !== undefined ? { oldNo: line.oldNo + head } : {}),
      ...(line.newNo !== undefined ? { newNo: line.newNo + head } : {}),
    });
  }
  for (let k = 0; k < tail; k++) {
    const i = a.length - tail + k;
    const j = b.length - tail + k;
    out.push({ op: "same", text: a[i] ?? "", oldNo: i + 1, newNo: j + 1 });
  }
  return out;
}

function middle(a: string[], b: string[]): DiffLine[] {
  const n = a.length;
  const m = b.length;
  if (n === 0) return b.map((text, j) => ({ op: "add", text, newNo: j + 1 }));
  if (m === 0) return a.map((text, i) => ({ op: "del", text, oldNo: i + 1 }));
  if ((n + 1) * (m + 1) > MAX_CELLS) {
    return [
      ...a.map((text, i): DiffLine => ({ op: "del", text, oldNo: i + 1 })),
      ...b.map((text, j): DiffLine => ({ op: "add", text, newNo: j + 1 })),
    ];
  }
  // lcs[i][j]: the longest common subsequence of a[i:] and b[j:], in one flat table.
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * width + j] =
        a[i] === b[j]
          ? (lcs[(i + 1) * width + j + 1] ?? 0) + 1
          : Math.max(lcs[(i + 1) * width + j] ?? 0, lcs[i * width + j + 1] ?? 0);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: "same", text: a[i] ?? "", oldNo: i + 1, newNo: j + 1 });
      i++;
      j++;
    } else if ((lcs[(i + 1) * width + j] ?? 0) >= (lcs[i * width + j + 1] ?? 0)) {
      out.push({ op: "del", text: a[i] ?? "", oldNo: i + 1 });
      i++;
    } else {
      out.push({ op: "add", text: b[j] ?? "", newNo: j + 1 });
      j++;
    }
  }
  for (; i < n; i++) out.push({ op: "del", text: a[i] ?? "", oldNo: i + 1 });
  for (; j < m; j++) out.push({ op: "add", text: b[j] ?? "", newNo: j + 1 });
  return out;
}

/** The changed lines with `context` unchanged lines around each change; the rest is counted, not shown. */
export function hunks(lines: DiffLine[], context = 3): Hunk[] {
  const keep = new Uint8Array(lines.length);
  lines.forEach((line, i) => {
    if (line.op === "same") return;
    for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++) keep[k] = 1;
  });
  const out: Hunk[] = [];
  let skipped = 0;
  let current: Hunk | null = null;
  lines.forEach((line, i) => {
    if (!keep[i]) {
      skipped++;
      current = null;
      return;
    }
    if (current === null) {
      current = { lines: [], skippedBefore: skipped };
      out.push(current);
      skipped = 0;
    }
    current.lines.push(line);
  });
  const last = out[out.length - 1];
  if (last && skipped > 0) last.skippedAfter = skipped;
  return out;
}

export function diffStats(lines: DiffLine[]): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const line of lines) {
    if (line.op === "add") added++;
    else if (line.op === "del") removed++;
  }
  return { added, removed };
}

/** Pretty-printed JSON (2 spaces), or the text itself when it is not JSON (a sealed value). */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
