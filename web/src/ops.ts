/** The operations page's pure parts. */

import type { Schemas } from "./api/client";

export interface GroupLag {
  group: string;
  lag: number;
  pending: number;
  behind: number[];
}

/** Per consumer group, summed over partitions; the groups behind first. */
export function lagByGroup(rows: Schemas["ProjectionLag"][]): GroupLag[] {
  const groups = new Map<string, GroupLag>();
  for (const r of rows) {
    const g = groups.get(r.group) ?? { group: r.group, lag: 0, pending: 0, behind: [] };
    g.lag += r.lag;
    g.pending += r.pending;
    if (r.lag > 0 || r.pending > 0) g.behind.push(r.partition);
    groups.set(r.group, g);
  }
  return [...groups.values()].sort((a, b) => b.lag + b.pending - (a.lag + a.pending) || a.group.localeCompare(b.group));
}

