import { describe, expect, it } from "vitest";
import type { Schemas } from "../api/client";
import { lastDays, niceTicks, stackByDay } from "./bars";

function row(day: string, provider: string, cost: number, calls = 1): Schemas["DailyCost"] {
  return { day, provider, model: "m", calls, refused: 0, input_tokens: 10, output_tokens: 5, cost_micro_usd: cost };
}

describe("the cost chart's bars", () => {
  it("round the scale up to 1, 2, 2.5 or 5 times a power of ten", () => {
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(1234)).toEqual([0, 500, 1000, 1500]);
    expect(niceTicks(100)).toEqual([0, 25, 50, 75, 100]);
  });

  it("stack each day's providers and keep the days without calls", () => {
    const bars = stackByDay([row("2026-12-06", "anthropic", 300), row("2026-12-06", "vllm", 0), row("2026-12-04", "anthropic", 100)], "cost", [
      "2026-12-04",
      "2026-12-05",
      "2026-12-06",
    ]);
    expect(bars.series).toEqual(["anthropic/m", "vllm/m"]);
    expect(bars.stacks.map((s) => [s.day, s.total])).toEqual([
      ["2026-12-04", 100],
      ["2026-12-05", 0],
      ["2026-12-06", 300],
    ]);
    expect(bars.max).toBeGreaterThanOrEqual(300);
  });

  it("count calls or tokens instead of cost", () => {
    expect(stackByDay([row("2026-12-06", "offline", 0, 8)], "calls").stacks[0]?.total).toBe(8);
    expect(stackByDay([row("2026-12-06", "offline", 0, 8)], "tokens").stacks[0]?.total).toBe(15);
  });

  it("name the last days in UTC, oldest first", () => {
    expect(lastDays(new Date("2026-03-01T10:00:00Z"), 3)).toEqual(["2026-02-27", "2026-02-28", "2026-03-01"]);
  });
});

describe("projection lag per consumer group", () => {
  it("sums partitions, lists those behind, and puts the groups behind first", async () => {
    const { lagByGroup } = await import("../ops");
    const groups = lagByGroup([
      { group: "projection.agent_state", partition: 0, lag: 0, pending: 0 },
      { group: "projection.sbom", partition: 0, lag: 0, pending: 0 },
      { group: "projection.sbom", partition: 3, lag: 7, pending: 2 },
      { group: "projection.sbom", partition: 5, lag: 0, pending: 1 },
    ]);
    expect(groups).toEqual([
      { group: "projection.sbom", lag: 7, pending: 3, behind: [3, 5] },
      { group: "projection.agent_state", lag: 0, pending: 0, behind: [] },
    ]);
  });
});
