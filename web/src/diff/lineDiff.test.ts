import { describe, expect, it } from "vitest";
import { diffStats, hunks, lineDiff, prettyJson, splitLines } from "./lineDiff";

function render(a: string, b: string): string[] {
  return lineDiff(a, b).map((l) => `${l.op === "add" ? "+" : l.op === "del" ? "-" : " "}${l.text}`);
}

describe("the line diff", () => {
  it("says nothing changed for equal texts", () => {
    expect(diffStats(lineDiff("a\nb\n", "a\nb\n"))).toEqual({ added: 0, removed: 0 });
  });

  it("finds a changed line between unchanged ones", () => {
    expect(render("a\nb\nc", "a\nB\nc")).toEqual([" a", "-b", "+B", " c"]);
  });

  it("finds lines added and removed anywhere, the longest common part kept", () => {
    expect(render("x\na\nb\nc\ny", "a\nb\nz\nc")).toEqual(["-x", " a", " b", "+z", " c", "-y"]);
  });

  it("numbers lines in the old and the new text", () => {
    const lines = lineDiff("a\nb\nc", "a\nc\nd");
    expect(lines.map((l) => [l.op, l.oldNo ?? null, l.newNo ?? null])).toEqual([
      ["same", 1, 1],
      ["del", 2, null],
      ["same", 3, 2],
      ["add", null, 3],
    ]);
  });

  it("handles empty texts on either side", () => {
    expect(render("", "a\nb")).toEqual(["+a", "+b"]);
    expect(render("a", "")).toEqual(["-a"]);
    expect(splitLines("")).toEqual([]);
  });

  it("shows changes with their context and counts what it leaves out", () => {
    const before = Array.from({ length: 20 }, (_, i) => `line ${i}`).join("\n");
    const after = before.replace("line 10", "line ten");
    const parts = hunks(lineDiff(before, after), 2);
    expect(parts).toHaveLength(1);
    expect(parts[0]?.skippedBefore).toBe(8);
    expect(parts[0]?.skippedAfter).toBe(7);
    expect(parts[0]?.lines.map((l) => l.text)).toEqual(["line 8", "line 9", "line 10", "line ten", "line 11", "line 12"]);
  });

  it("compares n8n JSON as pretty-printed lines, whatever its spacing", () => {
    const a = prettyJson('{"name":"A","nodes":[{"name":"Slack"}]}');
    const b = prettyJson('{ "name": "B", "nodes": [ { "name": "Slack" } ] }');
    expect(diffStats(lineDiff(a, b))).toEqual({ added: 1, removed: 1 });
    expect(prettyJson("[sealed]")).toBe("[sealed]");
  });

  it("stays quick on a large workflow", () => {
    const big = Array.from({ length: 3000 }, (_, i) => `"key${i}": ${i},`).join("\n");
    const changed = big.replace('"key1500": 1500,', '"key1500": 0,');
    const started = performance.now();
    expect(diffStats(lineDiff(big, changed))).toEqual({ added: 1, removed: 1 });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
