/**
 * AgentState with a time slider: the state as it was after each event of the conversation
 * (GET …/agent-state?version=N folds the log's first N events). The slider's marks come from the
 * conversation's own stream, replayed from its start and followed live; at its right end the page
 * follows the conversation as it grows.
 */

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, call, type Schemas } from "../api/client";
import { type ApiProblem, problemOf } from "../api/problem";
import { AgentName } from "../components/agents";
import { Empty, LiveStatus, Loading, ProblemView, Status, TableScroll, Text, Time } from "../components/common";
import { useI18n } from "../context";
import { eventLabel, parseEvent } from "../events";
import { useDebounced, useLiveStream } from "../hooks";
import { formatCost, formatDuration, formatNumber } from "../i18n/i18n";
import { href, navigate } from "../router";

type AgentState = Schemas["AgentStateDoc"];
type Conversation = Schemas["ConversationRow"];

interface Mark {
  type: string;
  time: string;
}

export function AgentStatePage({ id, version }: { id: string; version: number | undefined }) {
  const { t } = useI18n();
  const [conversation, setConversation] = useState<Conversation | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [marks, setMarks] = useState<Map<number, Mark>>(new Map());
  const [shown, setShown] = useState<AgentState | null>(null);
  const [stateProblem, setStateProblem] = useState<ApiProblem | null>(null);
  const cache = useRef(new Map<number, AgentState>());

  useEffect(() => {
    call(api.GET("/v1/conversations/{conversation_id}", { params: { path: { conversation_id: id } } })).then(setConversation, (e: unknown) =>
      setProblem(problemOf(e)),
    );
  }, [id]);

  const status = useLiveStream(
    `/v1/conversations/${encodeURIComponent(id)}/stream`,
    (message) => {
      const at = Number(message.id);
      const event = parseEvent(message.data);
      if (!Number.isFinite(at) || !event) return;
      setMarks((previous) => {
        if (previous.has(at)) return previous;
        const next = new Map(previous);
        next.set(at, { type: event.type, time: event.time });
        return next;
      });
    },
    { lastEventId: "0" },
  );

  const latest = Math.max(conversation?.last_version ?? 0, ...marks.keys());
  const following = version === undefined;
  const at = following ? latest : version;

  const read = useCallback(
    async (v: number) => {
      if (v < 1) return;
      const cached = cache.current.get(v);
      if (cached) {
        setShown(cached);
        setStateProblem(null);
        return;
      }
      try {
        const doc = await call(
          api.GET("/v1/conversations/{conversation_id}/agent-state", { params: { path: { conversation_id: id }, query: { version: v } } }),
        );
        cache.current.set(v, doc);
        setShown(doc);
        setStateProblem(null);
      } catch (error) {
        setStateProblem(problemOf(error));
      }
    },
    [id],
  );
  const readSoon = useDebounced(read, 120);
  useEffect(() => readSoon(at), [at, readSoon]);

  const go = (v: number | undefined): void => {
    if (v === undefined || v >= latest) navigate({ page: "agent-state", id }, true);
    else navigate({ page: "agent-state", id, version: Math.max(1, v) }, true);
  };

  const mark = marks.get(at);
  const valueText = mark
    ? t("state.sliderValue", { version: at, total: latest, event: eventLabel(t, mark.type) })
    : t("state.sliderValueBare", { version: at, total: latest });

  if (problem && !conversation) {
    return (
      <>
        <h1>{t("state.title")}</h1>
        <ProblemView problem={problem} />
      </>
    );
  }
  return (
    <>
      <div className="page-head">
        <p className="breadcrumb">
          <a href={href({ page: "conversations" })}>{t("nav.conversations")}</a> ›{" "}
          <a href={href({ page: "conversation", id })}>
            {conversation?.title ? <Text value={conversation.title} /> : t("conversations.untitled")}
          </a>
        </p>
        <h1>{t("state.title")}</h1>
        <LiveStatus status={status} />
      </div>
      <section className="card slider-card" aria-labelledby="slider-title">
        <h2 id="slider-title" className="visually-hidden">
          {t("state.timeTravel")}
        </h2>
        <div className="field">
          <label htmlFor="version-slider">{t("state.slider")}</label>
          <input
            id="version-slider"
            type="range"
            min={1}
            max={Math.max(1, latest)}
            step={1}
            value={Math.max(1, at)}
            disabled={latest < 1}
            aria-valuetext={valueText}
            onChange={(e) => go(Number(e.target.value))}
          />
        </div>
        <div className="slider-bar">
          <button type="button" className="secondary small" disabled={at <= 1} onClick={() => go(at - 1)}>
            ‹ {t("state.previous")}
          </button>
          <p className="slider-value" aria-live="polite">
            <strong>{valueText}</strong>
            {mark ? (
              <>
                {" "}
                · <Time iso={mark.time} />
              </>
            ) : null}
            {following ? <span className="badge tone-good">{t("state.following")}</span> : null}
          </p>
          <button type="button" className="secondary small" disabled={at >= latest} onClick={() => go(at + 1)}>
            {t("state.next")} ›
          </button>
          <button type="button" className="secondary small" disabled={following} onClick={() => go(undefined)}>
            {t("state.latest")}
          </button>
        </div>
      </section>
      <ProblemView problem={stateProblem} />
      {shown === null && !stateProblem ? <Loading /> : null}
      {shown ? <StateView state={shown} /> : null}
    </>
  );
}

const NO_CALLS: NonNullable<AgentState["inference"]> = {
  calls: 0,
  refused: 0,
  input_tokens: 0,
  output_tokens: 0,
  cache_read_tokens: 0,
  cache_write_tokens: 0,
  cost_micro_usd: 0,
  models: [],
};

export function StateView({ state }: { state: AgentState }) {
  const { t, lang } = useI18n();
  const summary = state.inference ?? NO_CALLS;
  const decisions = useMemo(() => [...state.decisions], [state.decisions]);
  return (
    <div className="state-view">
      <section aria-labelledby="summary-title" className="card">
        <h2 id="summary-title">{t("state.summary")}</h2>
        <dl className="stats">
          <div>
            <dt>{t("state.calls")}</dt>
            <dd>{formatNumber(lang, summary.calls)}</dd>
          </div>
          <div>
            <dt>{t("state.refused")}</dt>
            <dd>{formatNumber(lang, summary.refused)}</dd>
          </div>
          <div>
            <dt>{t("state.tokensIn")}</dt>
            <dd>{formatNumber(lang, summary.input_tokens)}</dd>
          </div>
          <div>
            <dt>{t("state.tokensOut")}</dt>
            <dd>{formatNumber(lang, summary.output_tokens)}</dd>
          </div>
          <div>
            <dt>{t("state.cost")}</dt>
            <dd>{formatCost(lang, summary.cost_micro_usd)}</dd>
          </div>
          <div>
            <dt>{t("state.language")}</dt>
            <dd>{state.language ?? "—"}</dd>
          </div>
        </dl>
        {summary.models.length > 0 ? (
          <p>
            {t("state.models")}:{" "}
            {summary.models.map((m) => (
              <code key={m} className="chip">
                {m}
              </code>
            ))}
          </p>
        ) : null}
        {state.open_question ? (
          <p>
            <strong>{t("state.openQuestion")}:</strong> <Text value={state.open_question} />
          </p>
        ) : null}
      </section>

      <section aria-labelledby="intents-title" className="card">
        <h2 id="intents-title">{t("state.intents")}</h2>
        {state.intents.length === 0 ? (
          <Empty>{t("state.noIntents")}</Empty>
        ) : (
          <TableScroll label={t("state.intents")}>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("state.intent")}</th>
                  <th scope="col">{t("state.confidence")}</th>
                  <th scope="col">{t("state.agents")}</th>
                </tr>
              </thead>
              <tbody>
                {state.intents.map((intent) => (
                  <tr key={intent.name}>
                    <td>{intent.name.replaceAll("_", " ")}</td>
                    <td>{intent.confidence}%</td>
                    <td>
                      {(intent.agents ?? []).map((a, i) => (
                        <span key={a}>
                          {i > 0 ? ", " : ""}
                          <AgentName agent={a} />
                        </span>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        )}
      </section>

      <section aria-labelledby="delegations-title">
        <h2 id="delegations-title">{t("state.delegations")}</h2>
        {state.delegations.length === 0 ? <Empty>{t("state.noDelegations")}</Empty> : null}
        <ul className="cards">
          {state.delegations.map((d) => (
            <li key={d.delegation_id} className="card">
              <h3>
                <AgentName agent={d.agent} /> <Status value={d.status} />
              </h3>
              <p>
                <span className="label">{t("state.task")}:</span> <Text value={d.task} />
              </p>
              <p className="meta">
                {t("state.delegatedAt")} <Time iso={d.delegated_at} />
                {d.answered_at ? (
                  <>
                    {" "}
                    · {t("state.answeredAt")} <Time iso={d.answered_at} />
                  </>
                ) : null}
              </p>
              {d.finding ? (
                <div className="finding">
                  <h4>{t("state.finding")}</h4>
                  <p>
                    <Text value={d.finding.summary} />
                  </p>
                  {d.finding.facts.length > 0 ? (
                    <dl className="facts">
                      {d.finding.facts.map((f, i) => (
                        <div key={`${f.key}-${i}`}>
                          <dt>{f.key}</dt>
                          <dd>
                            <Text value={f.value} />
                          </dd>
                        </div>
                      ))}
                    </dl>
                  ) : null}
                  {d.finding.n8n_nodes.length > 0 ? (
                    <p>
                      <span className="label">{t("state.nodes")}:</span>{" "}
                      {d.finding.n8n_nodes.map((n) => (
                        <code key={n} className="chip">
                          {n}
                        </code>
                      ))}
                    </p>
                  ) : null}
                  {(d.finding.sensitive_fields ?? []).length > 0 ? (
                    <p>
                      <span className="label">{t("state.sensitiveFields")}:</span> {(d.finding.sensitive_fields ?? []).join(", ")}
                    </p>
                  ) : null}
                </div>
              ) : null}
            </li>
          ))}
        </ul>
      </section>

      <section aria-labelledby="decisions-title" className="card">
        <h2 id="decisions-title">{t("state.decisions")}</h2>
        {decisions.length === 0 ? (
          <Empty>{t("state.noDecisions")}</Empty>
        ) : (
          <TableScroll label={t("state.decisions")}>
            <table className="decisions">
              <thead>
                <tr>
                  <th scope="col">{t("state.purpose")}</th>
                  <th scope="col">{t("state.outcome")}</th>
                  <th scope="col">{t("state.provider")}</th>
                  <th scope="col">{t("state.where")}</th>
                  <th scope="col">{t("state.why")}</th>
                  <th scope="col" className="num">
                    {t("state.tokens")}
                  </th>
                  <th scope="col" className="num">
                    {t("state.cost")}
                  </th>
                  <th scope="col" className="num">
                    {t("state.latency")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {decisions.map((d) => (
                  <tr key={d.inference_id}>
                    <td>
                      <AgentName agent={d.purpose} />
                      <div className="muted small-text">
                        <Time iso={d.at} />
                      </div>
                    </td>
                    <td>
                      <Status value={d.outcome} />
                      <div className="muted small-text">{t("state.sensitivity")}: {d.sensitivity}</div>
                    </td>
                    <td>
                      {d.provider ?? "—"}
                      {d.model ? <div className="small-text"><code>{d.model}</code></div> : null}
                      {d.template ? <div className="muted small-text">{d.template}</div> : null}
                    </td>
                    <td>
                      {d.local === null || d.local === undefined ? (
                        "—"
                      ) : d.local ? (
                        <span className="badge tone-good">{t("state.local")}</span>
                      ) : (
                        <span className="badge tone-info">{t("state.cloud")}</span>
                      )}
                    </td>
                    <td className="reason">{d.route_reason}</td>
                    <td className="num">
                      {formatNumber(lang, d.input_tokens)} / {formatNumber(lang, d.output_tokens)}
                    </td>
                    <td className="num">{formatCost(lang, d.cost_micro_usd)}</td>
                    <td className="num">{formatDuration(lang, d.latency_ms)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        )}
      </section>

      <section aria-labelledby="produced-title" className="card">
        <h2 id="produced-title">{t("state.workflows")}</h2>
        {state.workflows.length === 0 ? (
          <Empty>{t("state.noWorkflows")}</Empty>
        ) : (
          <ul>
            {state.workflows.map((w) => (
              <li key={`${w.workflow_id}-${w.revision ?? 0}`}>
                <a href={href({ page: "workflow", id: w.workflow_id, ...(w.revision ? { revision: w.revision } : {}) })}>
                  {t("workflow.revisionN", { revision: w.revision ?? "?" })}
                </a>{" "}
                · <Time iso={w.at} />
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
