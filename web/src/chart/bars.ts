/** Stacked bars per day from the daily cost rows (one per day, provider and model): pure, drawn as SVG. */

import type { Schemas } from "../api/client";

type DailyCost = Schemas["DailyCost"];

export type Metric = "cost" | "calls" | "tokens";

export interface Stack {
  day: string;
  total: number;
  parts: { series: string; value: number }[];
}

export interface Bars {
  series: string[];
  stacks: Stack[];
  max: number;
  ticks: number[];
}

export function valueOf(row: DailyCost, metric: Metric): number {
  switch (metric) {
    case "cost":
      return row.cost_micro_usd;
    case "calls":
      return row.calls;
    case "tokens":
      return row.input_tokens + row.output_tokens;
  }
}

/** A round upper bound and 4 or 5 evenly spaced ticks from 0 (1, 2, 2.5 or 5 times a power of ten). */
export function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power);
  const ticks: number[] = [];
  for (let v = 0; v < max + step; v += step) {
    ticks.push(Number(v.toPrecision(12)));
    if (v >= max) break;
  }
  return ticks;
}

/** Every day of the range appears, in order, even without a row (a gap is a fact too). */
export function stackByDay(rows: DailyCost[], metric: Metric, days: string[] = []): Bars {
  const series = [...new Set(rows.map((r) => `${r.provider}/${r.model}`))].sort();
  const byDay = new Map<string, Map<string, number>>();
  for (const day of days) byDay.set(day, new Map());
  for (const row of rows) {
    const day = byDay.get(row.day) ?? new Map<string, number>();
    const key = `${row.provider}/${row.model}`;
    day.set(key, (day.get(key) ?? 0) + valueOf(row, metric));
    byDay.set(row.day, day);
  }
  const stacks = [...byDay.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([day, values]) => {
      const parts = series.filter((s) => values.has(s)).map((s) => ({ series: s, value: values.get(s) ?? 0 }));
      return { day, total: parts.reduce((sum, p) => sum + p.value, 0), parts };
    });
  const ticks = niceTicks(Math.max(0, ...stacks.map((s) => s.total)));
  return { series, stacks, max: ticks[ticks.length - 1] ?? 1, ticks };
}

/** The `count` days up to `today` (UTC, YYYY-MM-DD), oldest first. */
export function lastDays(today: Date, count: number): string[] {
  const out: string[] = [];
  for (let i = count - 1; i >= 0; i--) {
    const d = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - i));
    out.push(d.toISOString().slice(0, 10));
  }
  return out;
}
