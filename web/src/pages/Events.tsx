/**
 * Events and audit (auditor, admin): the tenant's event feed with filters and live updates, the latest
 * signed checkpoints, and a verification of the whole log on request.
 */

import { type FormEvent, useCallback, useEffect, useState } from "react";
import { api, call, type Schemas } from "../api/client";
import { type ApiProblem, problemOf } from "../api/problem";
import { Empty, JsonView, LiveStatus, Loading, ProblemView, TableScroll, Time } from "../components/common";
import { useI18n } from "../context";
import { type CloudEvent, eventLabel, parseEvent } from "../events";
import { useLiveStream, useLoad } from "../hooks";
import { formatDuration, formatNumber } from "../i18n/i18n";
import { navigate } from "../router";

type Archived = Schemas["ArchivedEvent"];

interface Row {
  key: string;
  stream: string;
  version: number;
  type: string;
  time: string;
  partition?: number;
  event: CloudEvent | null;
  /** `data` with sealed fields opened, when the feed gave it. */
  opened: unknown;
}

function fromArchived(e: Archived): Row {
  let opened: unknown;
  if (e.opened) {
    try {
      opened = JSON.parse(e.opened);
    } catch {
      opened = undefined;
    }
  }
  return {
    key: `${e.stream}@${e.version}`,
    stream: e.stream,
    version: e.version,
    type: e.type,
    time: e.time,
    partition: e.partition,
    event: parseEvent(e.event),
    opened,
  };
}

const MAX_LIVE = 200;

/** `2026-12-06T19:00` (a datetime-local input, the browser's time) → ISO 8601 in UTC; and back. */
function toIso(local: string): string | undefined {
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function toLocal(iso: string | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function EventsPage({ type, stream, since }: { type: string | undefined; stream: string | undefined; since: string | undefined }) {
  const { t } = useI18n();
  return (
    <>
      <div className="page-head">
        <h1>{t("events.title")}</h1>
      </div>
      <div className="columns even">
        <Verification />
        <Checkpoints />
      </div>
      <Feed type={type} stream={stream} since={since} />
    </>
  );
}

function Feed({ type, stream, since }: { type: string | undefined; stream: string | undefined; since: string | undefined }) {
  const { t } = useI18n();
  const [typeInput, setTypeInput] = useState(type ?? "");
  const [streamInput, setStreamInput] = useState(stream ?? "");
  const [sinceInput, setSinceInput] = useState(toLocal(since));
  const [rows, setRows] = useState<Row[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [following, setFollowing] = useState(true);
  const [live, setLive] = useState<Row[]>([]);
  const schemas = useLoad(() => call(api.GET("/v1/schemas")), []);

  useEffect(() => {
    setTypeInput(type ?? "");
    setStreamInput(stream ?? "");
    setSinceInput(toLocal(since));
    setLive([]);
  }, [type, stream, since]);

  const load = useCallback(
    async (cursor: string | null) => {
      setLoading(true);
      setProblem(null);
      try {
        const query = { limit: 25, ...(type ? { type } : {}), ...(stream ? { stream } : {}), ...(since ? { since } : {}), ...(cursor ? { cursor } : {}) };
        const page = await call(api.GET("/v1/events", { params: { query } }));
        const more = page.items.map(fromArchived);
        setRows((previous) => (cursor ? [...previous, ...more] : more));
        setNext(page.next_cursor);
      } catch (error) {
        setProblem(problemOf(error));
      } finally {
        setLoading(false);
      }
    },
    [type, stream, since],
  );
  useEffect(() => {
    void load(null);
  }, [load]);

  const status = useLiveStream(following ? "/v1/stream" : null, (message) => {
    const event = parseEvent(message.data);
    if (!event) return;
    if (type && event.type !== type) return;
    if (stream && event.stream !== stream) return;
    const row: Row = {
      key: `${event.stream}@${event.version}`,
      stream: event.stream,
      version: event.version,
      type: event.type,
      time: event.time,
      event,
      opened: undefined,
    };
    setLive((previous) => (previous.some((r) => r.key === row.key) ? previous : [row, ...previous].slice(0, MAX_LIVE)));
  });

  function apply(event: FormEvent): void {
    event.preventDefault();
    const from = sinceInput ? toIso(sinceInput) : undefined;
    navigate({
      page: "events",
      ...(typeInput.trim() ? { type: typeInput.trim() } : {}),
      ...(streamInput.trim() ? { stream: streamInput.trim() } : {}),
      ...(from ? { since: from } : {}),
    });
  }

  return (
    <section aria-labelledby="feed-title" className="stack">
      <h2 id="feed-title">{t("events.feed")}</h2>
      <form className="filters" role="search" aria-label={t("events.filters")} onSubmit={apply}>
        <div className="field inline">
          <label htmlFor="event-type">{t("events.type")}</label>
          <input id="event-type" list="event-types" value={typeInput} onChange={(e) => setTypeInput(e.target.value)} spellCheck={false} />
          <datalist id="event-types">
            {(schemas.data?.schemas ?? []).map((s) => (
              <option key={s.type} value={s.type} />
            ))}
          </datalist>
        </div>
        <div className="field inline">
          <label htmlFor="event-stream">{t("events.stream")}</label>
          <input id="event-stream" value={streamInput} onChange={(e) => setStreamInput(e.target.value)} spellCheck={false} placeholder="conversation-…" />
        </div>
        <div className="field inline">
          <label htmlFor="event-since">{t("events.since")}</label>
          <input id="event-since" type="datetime-local" value={sinceInput} onChange={(e) => setSinceInput(e.target.value)} />
        </div>
        <button type="submit" className="secondary">
          {t("action.filter")}
        </button>
        {type || stream || since ? (
          <button type="button" className="link" onClick={() => navigate({ page: "events" })}>
            {t("action.clearFilter")}
          </button>
        ) : null}
      </form>

      <div className="card stack">
        <div className="row-between">
          <h3>{t("events.live")}</h3>
          <label className="check">
            <input type="checkbox" checked={following} onChange={(e) => setFollowing(e.target.checked)} /> {t("events.follow")}
          </label>
        </div>
        {following ? <LiveStatus status={status} /> : null}
        {live.length === 0 ? <Empty>{t("events.noLive")}</Empty> : <EventTable rows={live} label={t("events.live")} />}
      </div>

      <div className="card stack">
        <h3>{t("events.history")}</h3>
          <p className="muted small-text">{t("events.oldestFirst")}</p>
        <ProblemView problem={problem} onRetry={() => void load(null)} />
        {rows.length === 0 && !loading && !problem ? <Empty>{t("events.none")}</Empty> : null}
        {rows.length > 0 ? <EventTable rows={rows} label={t("events.history")} /> : null}
        {loading ? <Loading /> : null}
        {next && !loading ? (
          <div>
            <button type="button" className="secondary" onClick={() => void load(next)}>
              {t("action.loadMore")}
            </button>
          </div>
        ) : null}
      </div>
    </section>
  );
}

function EventTable({ rows, label }: { rows: Row[]; label: string }) {
  const { t } = useI18n();
  return (
    <TableScroll label={label}>
      <table className="events">
        <thead>
          <tr>
            <th scope="col">{t("events.type")}</th>
            <th scope="col">{t("events.stream")}</th>
            <th scope="col">{t("events.data")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <td>
                <button type="button" className="link" onClick={() => navigate({ page: "events", type: r.type })} title={t("events.filterType")}>
                  {eventLabel(t, r.type)}
                </button>
                <div className="muted small-text">
                  <Time iso={r.time} />
                </div>
                <div className="muted small-text">
                  <code>{r.type}</code>
                </div>
              </td>
              <td>
                <button type="button" className="link wrap" onClick={() => navigate({ page: "events", stream: r.stream })} title={t("events.filterStream")}>
                  <code>{r.stream}</code>
                </button>
                <div className="muted small-text">
                  {t("events.version")} {r.version}
                </div>
              </td>
              <td className="data-cell">
                <details>
                  <summary>{t("events.show")}</summary>
                  <JsonView value={r.opened ?? r.event?.data ?? null} />
                  {r.event ? (
                    <dl className="pairs small-text">
                      <div>
                        <dt>id</dt>
                        <dd>
                          <code>{r.event.id}</code>
                        </dd>
                      </div>
                      {r.partition !== undefined ? (
                        <div>
                          <dt>{t("events.partition")}</dt>
                          <dd>{r.partition}</dd>
                        </div>
                      ) : null}
                    </dl>
                  ) : null}
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

function Checkpoints() {
  const { t, lang } = useI18n();
  const list = useLoad(() => call(api.GET("/v1/audit/checkpoints")), []);
  return (
    <section aria-labelledby="checkpoints-title" className="card stack">
      <div className="row-between">
        <h2 id="checkpoints-title">{t("audit.checkpoints")}</h2>
        <button type="button" className="secondary small" onClick={list.reload}>
          {t("action.refresh")}
        </button>
      </div>
      <p className="muted small-text">{t("audit.checkpointsHelp")}</p>
      <ProblemView problem={list.problem} onRetry={list.reload} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data && list.data.length === 0 ? <Empty>{t("audit.noCheckpoints")}</Empty> : null}
      {list.data && list.data.length > 0 ? (
        <TableScroll label={t("audit.checkpoints")}>
          <table>
            <thead>
              <tr>
                <th scope="col" className="num">
                  {t("events.partition")}
                </th>
                <th scope="col" className="num">
                  {t("audit.size")}
                </th>
                <th scope="col">{t("audit.signedAt")}</th>
                <th scope="col">{t("audit.root")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.map((c) => (
                <tr key={c.partition}>
                  <td className="num">{c.partition}</td>
                  <td className="num">{formatNumber(lang, c.size)}</td>
                  <td>
                    <Time iso={c.signed_at} />
                  </td>
                  <td>
                    <details>
                      <summary>
                        <code>{c.root.slice(0, 12)}…</code>
                      </summary>
                      <p className="small-text">
                        {t("audit.signer")}: {c.algorithm} v{c.key_version}
                      </p>
                      <pre className="code small-text">{c.text}</pre>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      ) : null}
    </section>
  );
}

function Verification() {
  const { t, lang } = useI18n();
  const [report, setReport] = useState<Schemas["Verification"] | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);

  async function verify(): Promise<void> {
    setBusy(true);
    setProblem(null);
    try {
      setReport(await call(api.POST("/v1/audit/verifications")));
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  const problems = report?.problems ?? [];
  const count = report?.problem_count ?? problems.length;
  return (
    <section aria-labelledby="verify-title" className="card stack">
      <h2 id="verify-title">{t("audit.verify")}</h2>
      <p className="muted small-text">{t("audit.verifyHelp")}</p>
      <div>
        <button type="button" onClick={() => void verify()} disabled={busy}>
          {busy ? t("audit.verifying") : t("audit.verifyButton")}
        </button>
      </div>
      <ProblemView problem={problem} />
      {report ? (
        <div className="stack" role="status">
          <p className={report.ok && count === 0 ? "verdict verdict-good" : "verdict verdict-bad"}>
            <strong>{report.ok && count === 0 ? t("audit.intact") : t("audit.broken", { count })}</strong>{" "}
            <span className="small-text">
              <Time iso={report.verified_at} />
            </span>
          </p>
          {report.signatures_checked === false ? <p className="notice">{t("audit.rootsOnly")}</p> : null}
          {count > problems.length ? <p className="muted">{t("audit.firstShown", { shown: problems.length })}</p> : null}
          <dl className="stats">
            <div>
              <dt>{t("audit.streams")}</dt>
              <dd>{formatNumber(lang, report.streams)}</dd>
            </div>
            <div>
              <dt>{t("audit.events")}</dt>
              <dd>{formatNumber(lang, report.events)}</dd>
            </div>
            <div>
              <dt>{t("audit.checkpointsVerified")}</dt>
              <dd>{formatNumber(lang, report.checkpoints)}</dd>
            </div>
            <div>
              <dt>{t("audit.duration")}</dt>
              <dd>{formatDuration(lang, report.duration_ms)}</dd>
            </div>
          </dl>
          {problems.length > 0 ? (
            <TableScroll label={t("audit.problems")}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{t("audit.code")}</th>
                    <th scope="col">{t("events.stream")}</th>
                    <th scope="col" className="num">
                      {t("events.version")}
                    </th>
                    <th scope="col">{t("audit.detail")}</th>
                  </tr>
                </thead>
                <tbody>
                  {problems.map((p, i) => (
                    <tr key={i}>
                      <td>
                        <code>{p.code}</code>
                      </td>
                      <td>
                        {p.stream ? (
                          <button type="button" className="link wrap" onClick={() => navigate({ page: "events", stream: p.stream ?? undefined })}>
                            <code>{p.stream}</code>
                          </button>
                        ) : (
                          <code className="wrap">{p.where}</code>
                        )}
                      </td>
                      <td className="num">{p.version ?? "—"}</td>
                      <td>{p.detail}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}
