/** An n8n workflow drawn as SVG from `layoutWorkflow`: boxes, curves, the trigger marked, problems on nodes. */

import { type KeyboardEvent, useEffect, useMemo, useState } from "react";
import { useI18n } from "../context";
import { type Direction, layoutWorkflow, type N8nWorkflow, NODE_HEIGHT, NODE_WIDTH } from "../graph/layout";

const NARROW = "(max-width: 700px)";

/** Left to right on a wide screen, top to bottom on a narrow one. */
function useDirection(): Direction {
  const query = typeof window !== "undefined" && window.matchMedia ? window.matchMedia(NARROW) : null;
  const [narrow, setNarrow] = useState(query?.matches ?? false);
  useEffect(() => {
    if (!query) return undefined;
    const change = (e: MediaQueryListEvent): void => setNarrow(e.matches);
    query.addEventListener("change", change);
    return () => query.removeEventListener("change", change);
  }, [query]);
  return narrow ? "down" : "right";
}

export interface NodeProblems {
  errors: number;
  warnings: number;
}

/** A text too long for its box is narrowed to fit (never cut: what is shown is the node's name). */
function squeeze(text: string, room: number, charWidth: number): { textLength?: number; lengthAdjust?: "spacingAndGlyphs" } {
  return text.length * charWidth > room ? { textLength: room, lengthAdjust: "spacingAndGlyphs" } : {};
}

export function WorkflowGraph({
  workflow,
  problems,
  selected,
  onSelect,
  labelledBy,
}: {
  workflow: N8nWorkflow;
  problems: Map<string, NodeProblems>;
  selected: string | null;
  onSelect: (name: string | null) => void;
  labelledBy: string;
}) {
  const { t } = useI18n();
  const direction = useDirection();
  const layout = useMemo(() => layoutWorkflow(workflow, direction), [workflow, direction]);
  if (layout.nodes.length === 0) return <p className="empty">{t("workflow.noNodes")}</p>;

  const key = (name: string) => (event: KeyboardEvent<SVGGElement>) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onSelect(selected === name ? null : name);
    }
  };

  return (
    <div className="graph-scroll" role="group" aria-label={t("workflow.graphScroll")} tabIndex={0}>
      <svg
        className="graph"
        role="group"
        aria-labelledby={labelledBy}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        width="100%"
        // shrinks to the screen down to three quarters of its size, then scrolls (CSSOM: allowed by the CSP)
        style={{ maxWidth: layout.width, minWidth: Math.round(layout.width * 0.75) }}
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0 0 L10 5 L0 10 z" className="arrow-head" />
          </marker>
        </defs>
        <g aria-hidden="true">
          {layout.edges.map((e, i) => (
            <path
              key={`${e.from}-${e.to}-${e.kind}-${e.output}-${i}`}
              d={e.path}
              className={`edge${e.kind !== "main" ? " edge-ai" : ""}${e.back ? " edge-back" : ""}${
                selected && (e.from === selected || e.to === selected) ? " edge-selected" : ""
              }`}
              markerEnd="url(#arrow)"
            />
          ))}
        </g>
        {layout.nodes.map((n) => {
          const p = problems.get(n.name);
          const classes = ["node"];
          if (n.trigger) classes.push("node-trigger");
          if (n.disabled) classes.push("node-disabled");
          if (p?.errors) classes.push("node-error");
          else if (p?.warnings) classes.push("node-warning");
          if (selected === n.name) classes.push("node-selected");
          const extras = [
            n.trigger ? t("workflow.trigger") : "",
            p?.errors ? t("workflow.nodeErrors", { count: p.errors }) : "",
            p?.warnings ? t("workflow.nodeWarnings", { count: p.warnings }) : "",
          ]
            .filter(Boolean)
            .join(", ");
          const textX = n.trigger ? 22 : 12;
          const room = NODE_WIDTH - textX - 12;
          return (
            <g
              key={n.name}
              className={classes.join(" ")}
              transform={`translate(${n.x} ${n.y})`}
              role="button"
              tabIndex={0}
              aria-pressed={selected === n.name}
              onClick={() => onSelect(selected === n.name ? null : n.name)}
              onKeyDown={key(n.name)}
            >
              {/* the name is what the box shows (name, then type); the rest is its description */}
              {extras ? <desc>{extras}</desc> : null}
              <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={8} className="node-box" />
              {n.trigger ? <path d="M0 8 A8 8 0 0 1 8 0 H14 V56 H8 A8 8 0 0 1 0 48 Z" className="node-trigger-band" /> : null}
              <text x={textX} y={23} className="node-name" {...squeeze(n.name, room, 7.6)}>
                {n.name}
              </text>
              <text x={textX} y={42} className="node-type" {...squeeze(n.shortType, room, 7)}>
                {n.shortType}
              </text>
              {p && (p.errors || p.warnings) ? (
                <g transform={`translate(${NODE_WIDTH - 2} 2)`} className={p.errors ? "node-badge badge-error" : "node-badge badge-warning"} aria-hidden="true">
                  <circle r={10} />
                  <text textAnchor="middle" y={4}>
                    {p.errors || p.warnings}
                  </text>
                </g>
              ) : null}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
