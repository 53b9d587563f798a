/**
 * Operations (admin): projection lag and dead letters, the inference providers' health and circuit
 * breakers, and inference cost per day (GET /v1/operations?days=N).
 */

import { useState } from "react";
import { api, call, type Schemas } from "../api/client";
import { type Bars, lastDays, type Metric, stackByDay } from "../chart/bars";
import { Empty, Loading, ProblemView, TableScroll, Time } from "../components/common";
import { useI18n } from "../context";
import { useLoad } from "../hooks";
import { formatCost, formatNumber, type Lang, locale } from "../i18n/i18n";
import { navigate } from "../router";
import { lagByGroup } from "../ops";

const RANGES = [1, 7, 30, 90];
const SERIES_COLOURS = 8; // .series-0 … .series-7 in styles.css

export function OperationsPage({ days }: { days: number | undefined }) {
  const { t, lang } = useI18n();
  const range = days !== undefined && days >= 1 && days <= 90 ? days : 7;
  const ops = useLoad(() => call(api.GET("/v1/operations", { params: { query: { days: range } } })), [range]);
  const data = ops.data;

  return (
    <>
      <div className="page-head row-between">
        <h1>{t("ops.title")}</h1>
        <div className="field inline">
          <label htmlFor="ops-days">{t("ops.range")}</label>
          <select id="ops-days" value={range} onChange={(e) => navigate({ page: "operations", days: Number(e.target.value) })}>
            {RANGES.map((d) => (
              <option key={d} value={d}>
                {t("ops.days", { count: d })}
              </option>
            ))}
          </select>
          <button type="button" className="secondary small" onClick={ops.reload}>
            {t("action.refresh")}
          </button>
        </div>
      </div>
      <ProblemView problem={ops.problem} onRetry={ops.reload} />
      {ops.loading && !data ? <Loading /> : null}
      {data ? (
        <>
          <section className="card" aria-labelledby="ops-cost">
            <h2 id="ops-cost">{t("ops.costs")}</h2>
            <CostChart rows={data.costs ?? []} days={range} lang={lang} />
          </section>
          <div className="columns even">
            <section className="card" aria-labelledby="ops-lag">
              <h2 id="ops-lag">{t("ops.projections")}</h2>
              {(data.projections ?? []).length === 0 ? <Empty>{t("ops.noProjections")}</Empty> : <LagTable rows={data.projections} />}
            </section>
            <section className="card" aria-labelledby="ops-dlq">
              <h2 id="ops-dlq">{t("ops.deadLetters")}</h2>
              {(data.dead_letters ?? []).every((d) => d.count === 0) ? (
                <Empty>{t("ops.noDeadLetters")}</Empty>
              ) : (
                <TableScroll label={t("ops.deadLetters")}>
                  <table>
                    <thead>
                      <tr>
                        <th scope="col" className="num">
                          {t("events.partition")}
                        </th>
                        <th scope="col" className="num">
                          {t("ops.count")}
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {(data.dead_letters ?? []).map((d) => (
                        <tr key={d.partition} className={d.count > 0 ? "row-attention" : undefined}>
                          <td className="num">{d.partition}</td>
                          <td className="num">{formatNumber(lang, d.count)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </TableScroll>
              )}
            </section>
          </div>
          <section className="card" aria-labelledby="ops-providers">
            <h2 id="ops-providers">{t("ops.providers")}</h2>
            {(data.providers ?? []).length === 0 ? (
              <Empty>{t("ops.noProviders")}</Empty>
            ) : (
              <TableScroll label={t("ops.providers")}>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t("ops.provider")}</th>
                      <th scope="col">{t("ops.model")}</th>
                      <th scope="col">{t("ops.locality")}</th>
                      <th scope="col">{t("ops.circuit")}</th>
                      <th scope="col" className="num">
                        {t("ops.failures")}
                      </th>
                      <th scope="col">{t("ops.process")}</th>
                      <th scope="col">{t("ops.reported")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {(data.providers ?? []).map((p) => (
                      <tr key={`${p.process}/${p.target}/${p.name}/${p.model}`}>
                        <td>
                          {p.name}
                          <div className="muted small-text">{p.target}</div>
                        </td>
                        <td>
                          <code>{p.model}</code>
                        </td>
                        <td>{p.locality}</td>
                        <td>
                          <CircuitBadge circuit={p.circuit} />
                        </td>
                        <td className="num">{formatNumber(lang, p.failures)}</td>
                        <td>
                          <code>{p.process}</code>
                        </td>
                        <td>
                          <Time iso={p.reported_at} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableScroll>
            )}
          </section>
        </>
      ) : null}
    </>
  );
}

function LagTable({ rows }: { rows: Schemas["ProjectionLag"][] }) {
  const { t, lang } = useI18n();
  const groups = lagByGroup(rows);
  return (
    <>
      <TableScroll label={t("ops.projections")}>
        <table>
          <thead>
            <tr>
              <th scope="col">{t("ops.group")}</th>
              <th scope="col" className="num">
                {t("ops.lag")}
              </th>
              <th scope="col" className="num">
                {t("ops.pending")}
              </th>
              <th scope="col">{t("ops.behind")}</th>
            </tr>
          </thead>
          <tbody>
            {groups.map((g) => (
              <tr key={g.group} className={g.behind.length > 0 ? "row-attention" : undefined}>
                <td>
                  <code>{g.group}</code>
                </td>
                <td className="num">{formatNumber(lang, g.lag)}</td>
                <td className="num">{formatNumber(lang, g.pending)}</td>
                <td>{g.behind.length > 0 ? g.behind.join(", ") : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
      <details>
        <summary>{t("ops.perPartition")}</summary>
        <TableScroll label={t("ops.perPartition")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("ops.group")}</th>
                <th scope="col" className="num">
                  {t("events.partition")}
                </th>
                <th scope="col" className="num">
                  {t("ops.lag")}
                </th>
                <th scope="col" className="num">
                  {t("ops.pending")}
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((p) => (
                <tr key={`${p.group}/${p.partition}`} className={p.lag > 0 || p.pending > 0 ? "row-attention" : undefined}>
                  <td>
                    <code>{p.group}</code>
                  </td>
                  <td className="num">{p.partition}</td>
                  <td className="num">{formatNumber(lang, p.lag)}</td>
                  <td className="num">{formatNumber(lang, p.pending)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      </details>
    </>
  );
}

function CircuitBadge({ circuit }: { circuit: string }) {
  const { t } = useI18n();
  const tone = circuit === "closed" ? "good" : circuit === "open" ? "bad" : "warn";
  const label = circuit === "closed" ? t("ops.circuitClosed") : circuit === "open" ? t("ops.circuitOpen") : circuit === "half_open" ? t("ops.circuitHalfOpen") : circuit;
  return <span className={`badge tone-${tone}`}>{label}</span>;
}

function format(lang: Lang, metric: Metric, value: number): string {
  return metric === "cost" ? formatCost(lang, value) : formatNumber(lang, value);
}

/** An axis label: short (three significant digits), the exact values are in the table. */
function tickLabel(lang: Lang, metric: Metric, value: number): string {
  if (metric !== "cost") return new Intl.NumberFormat(locale(lang), { notation: "compact", maximumSignificantDigits: 3 }).format(value);
  return new Intl.NumberFormat(locale(lang), { style: "currency", currency: "USD", maximumSignificantDigits: 3 }).format(value / 1_000_000);
}

function CostChart({ rows, days, lang }: { rows: Schemas["DailyCost"][]; days: number; lang: Lang }) {
  const { t } = useI18n();
  const range = lastDays(new Date(), days);
  const inRange = rows.filter((r) => r.day >= (range[0] ?? ""));
  const totals = {
    cost: inRange.reduce((s, r) => s + r.cost_micro_usd, 0),
    calls: inRange.reduce((s, r) => s + r.calls, 0),
    refused: inRange.reduce((s, r) => s + r.refused, 0),
  };
  // Local and offline models cost nothing: then the calls say more than a flat line at $0.
  const [chosen, setMetric] = useState<Metric | null>(null);
  const metric: Metric = chosen ?? (totals.cost === 0 && totals.calls > 0 ? "calls" : "cost");
  const bars = stackByDay(inRange, metric, range);
  return (
    <div className="stack">
      <div className="row-between">
        <p>
          {t("ops.total", { cost: formatCost(lang, totals.cost), calls: formatNumber(lang, totals.calls), refused: formatNumber(lang, totals.refused) })}
        </p>
        <div className="toggle-group" role="group" aria-label={t("ops.metric")}>
          {(["cost", "calls", "tokens"] as const).map((m) => (
            <button key={m} type="button" className="small" aria-pressed={metric === m} onClick={() => setMetric(m)}>
              {t(`ops.metric.${m}`)}
            </button>
          ))}
        </div>
      </div>
      {inRange.length === 0 ? (
        <Empty>{t("ops.noCosts")}</Empty>
      ) : (
        <BarChart bars={bars} metric={metric} lang={lang} label={t("ops.chartLabel", { metric: t(`ops.metric.${metric}`), days })} />
      )}
      {bars.series.length > 0 ? (
        <ul className="legend-list">
          {bars.series.map((s, i) => (
            <li key={s}>
              <span className="swatch" data-series={i % SERIES_COLOURS} aria-hidden="true" /> <code>{s}</code>
            </li>
          ))}
        </ul>
      ) : null}
      <details>
        <summary>{t("ops.costTable")}</summary>
        {inRange.length === 0 ? (
          <Empty>{t("ops.noCosts")}</Empty>
        ) : (
          <TableScroll label={t("ops.costTable")}>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("ops.day")}</th>
                  <th scope="col">{t("ops.provider")}</th>
                  <th scope="col">{t("ops.model")}</th>
                  <th scope="col" className="num">
                    {t("state.calls")}
                  </th>
                  <th scope="col" className="num">
                    {t("state.refused")}
                  </th>
                  <th scope="col" className="num">
                    {t("state.tokens")}
                  </th>
                  <th scope="col" className="num">
                    {t("state.cost")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {inRange.map((r) => (
                  <tr key={`${r.day}/${r.provider}/${r.model}`}>
                    <td>{r.day}</td>
                    <td>{r.provider}</td>
                    <td>
                      <code>{r.model}</code>
                    </td>
                    <td className="num">{formatNumber(lang, r.calls)}</td>
                    <td className="num">{formatNumber(lang, r.refused)}</td>
                    <td className="num">
                      {formatNumber(lang, r.input_tokens)} / {formatNumber(lang, r.output_tokens)}
                    </td>
                    <td className="num">{formatCost(lang, r.cost_micro_usd)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        )}
      </details>
    </div>
  );
}

const CHART_HEIGHT = 220;
const AXIS = 84;
const BOTTOM = 28;

function BarChart({ bars, metric, lang, label }: { bars: Bars; metric: Metric; lang: Lang; label: string }) {
  const slot = Math.max(8, Math.min(96, 720 / Math.max(1, bars.stacks.length)));
  const width = AXIS + bars.stacks.length * slot + 8;
  const plot = CHART_HEIGHT - BOTTOM - 8;
  const y = (v: number): number => 8 + plot - (bars.max > 0 ? (v / bars.max) * plot : 0);
  const every = Math.ceil(bars.stacks.length / 8);
  const seriesIndex = new Map(bars.series.map((s, i) => [s, i % SERIES_COLOURS]));
  return (
    <div className="chart-scroll" role="group" aria-label={label} tabIndex={0}>
      <svg className="chart" role="img" aria-label={label} viewBox={`0 0 ${width} ${CHART_HEIGHT}`} width={width} height={CHART_HEIGHT}>
        {bars.ticks.map((tick) => (
          <g key={tick}>
            <line x1={AXIS} x2={width} y1={y(tick)} y2={y(tick)} className="grid" />
            <text x={AXIS - 6} y={y(tick) + 4} textAnchor="end" className="axis">
              {tickLabel(lang, metric, tick)}
            </text>
          </g>
        ))}
        {bars.stacks.map((stack, i) => {
          let base = 0;
          const x = AXIS + i * slot + slot * 0.15;
          return (
            <g key={stack.day}>
              <title>{`${stack.day}: ${format(lang, metric, stack.total)}`}</title>
              {stack.parts.map((part) => {
                const top = y(base + part.value);
                const height = y(base) - top;
                base += part.value;
                return <rect key={part.series} x={x} y={top} width={slot * 0.7} height={Math.max(0, height)} className={`bar series-${seriesIndex.get(part.series) ?? 0}`} />;
              })}
              {i % every === 0 ? (
                <text x={x + slot * 0.35} y={CHART_HEIGHT - 8} textAnchor="middle" className="axis">
                  {stack.day.slice(5)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
