/**
 * A workflow: its graph and validation per revision, the decision on the current revision, its
 * deployment (n8n link, webhooks, missing credentials), and the revision history with a diff. The page
 * follows the tenant's live stream and reads the workflow again when an event of its stream arrives.
 */

import { type FormEvent, useCallback, useEffect, useMemo, useState } from "react";
import { api, call, command, newIdempotencyKey, rememberToken, type Schemas, takeToken } from "../api/client";
import { type ApiProblem, problemOf } from "../api/problem";
import { can } from "../auth/roles";
import { CredentialForm } from "../components/CredentialForm";
import { DiffView } from "../components/DiffView";
import { Empty, LiveStatus, Loading, ProblemView, redaction, Redacted, Status, TableScroll, Text, Time } from "../components/common";
import { type NodeProblems, WorkflowGraph } from "../components/WorkflowGraph";
import { useI18n, useSession } from "../context";
import { prettyJson } from "../diff/lineDiff";
import { parseEvent } from "../events";
import { isTrigger, type N8nWorkflow, parseWorkflow, shortType } from "../graph/layout";
import { useDebounced, useLiveStream } from "../hooks";
import { href, navigate } from "../router";

type WorkflowDoc = Schemas["WorkflowDoc"];
type Revision = Schemas["Revision"];
type Problem = Schemas["ValidationProblem"];

export function WorkflowPage({ id, revision }: { id: string; revision: number | undefined }) {
  const { t } = useI18n();
  const { role } = useSession();
  const [doc, setDoc] = useState<WorkflowDoc | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);

  const load = useCallback(async () => {
    try {
      const headers = takeToken(id);
      const next = await call(api.GET("/v1/workflows/{workflow_id}", { params: { path: { workflow_id: id } }, headers }));
      setDoc(next);
      setProblem(null);
    } catch (error) {
      setProblem(problemOf(error));
    }
  }, [id]);
  useEffect(() => {
    void load();
  }, [load]);
  const loadSoon = useDebounced(load, 200);

  const status = useLiveStream("/v1/stream", (message) => {
    const event = parseEvent(message.data);
    if (event?.stream === `workflow-${id}`) loadSoon();
  });

  if (problem && !doc) {
    return (
      <>
        <h1>{t("workflow.title")}</h1>
        <ProblemView problem={problem} onRetry={() => void load()} />
      </>
    );
  }
  if (!doc) return <Loading />;

  const shown = doc.revisions.find((r) => r.revision === (revision ?? doc.revision)) ?? doc.revisions[doc.revisions.length - 1];
  return (
    <>
      <div className="page-head">
        <p className="breadcrumb">
          <a href={href({ page: "workflows" })}>{t("nav.workflows")}</a> ›{" "}
          <a href={href({ page: "conversation", id: doc.conversation_id })}>{t("workflow.conversation")}</a>
        </p>
        <h1>
          <Text value={doc.name} />
        </h1>
        <p className="meta">
          <Status value={doc.status} /> · {t("workflow.currentRevision", { revision: doc.revision })} · {t("workflow.updated")}{" "}
          <Time iso={doc.updated_at} /> · <a href={href({ page: "sbom", id, revision: shown?.revision })}>{t("workflow.openSbom")}</a>
        </p>
        <LiveStatus status={status} />
        <ProblemView problem={problem} />
      </div>
      {can(role, "decide") ? <Decision doc={doc} onDone={load} /> : <Reviews doc={doc} />}
      <DeploymentView doc={doc} onDone={load} />
      {shown ? <RevisionView doc={doc} revision={shown} /> : <Empty>{t("workflow.noRevisions")}</Empty>}
      <History doc={doc} shown={shown?.revision ?? doc.revision} />
    </>
  );
}

function Reviews({ doc }: { doc: WorkflowDoc }) {
  const { t } = useI18n();
  if (!doc.approved && !doc.rejected) return null;
  return (
    <section className="card" aria-labelledby="review-title">
      <h2 id="review-title">{t("workflow.decision")}</h2>
      <ReviewLines doc={doc} />
    </section>
  );
}

function ReviewLines({ doc }: { doc: WorkflowDoc }) {
  const { t } = useI18n();
  return (
    <>
      {doc.approved ? (
        <p>
          {t("workflow.approvedBy", { revision: doc.approved.revision, by: doc.approved.by })} <Time iso={doc.approved.at} />
        </p>
      ) : null}
      {doc.rejected ? (
        <p>
          {t("workflow.rejectedBy", { revision: doc.rejected.revision, by: doc.rejected.by })} <Time iso={doc.rejected.at} />
          {doc.rejected.reason ? (
            <>
              {" — "}
              <Text value={doc.rejected.reason} />
            </>
          ) : null}
        </p>
      ) : null}
    </>
  );
}

const REJECTABLE = new Set(["drafted", "validated", "invalid"]);

function Decision({ doc, onDone }: { doc: WorkflowDoc; onDone: () => Promise<void> }) {
  const { t } = useI18n();
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState<"approve" | "reject" | null>(null);
  const [key, setKey] = useState(newIdempotencyKey);
  const approvable = doc.status === "validated";
  const rejectable = REJECTABLE.has(doc.status);

  async function decide(kind: "approve" | "reject", event?: FormEvent): Promise<void> {
    event?.preventDefault();
    setBusy(kind);
    setProblem(null);
    try {
      const path = { params: { path: { workflow_id: doc.workflow_id } }, headers: { "Idempotency-Key": key } };
      const accepted =
        kind === "approve"
          ? await command(api.POST("/v1/workflows/{workflow_id}/approve", { ...path, body: { revision: doc.revision, credentials: {} } }))
          : await command(api.POST("/v1/workflows/{workflow_id}/reject", { ...path, body: { revision: doc.revision, reason: reason.trim() } }));
      rememberToken(doc.workflow_id, accepted.consistency_token);
      setReason("");
      setKey(newIdempotencyKey());
      await onDone();
    } catch (error) {
      setProblem(problemOf(error)); // the reason stays in its box
    } finally {
      setBusy(null);
    }
  }

  return (
    <section className="card stack" aria-labelledby="decision-title">
      <h2 id="decision-title">{t("workflow.decision")}</h2>
      <ReviewLines doc={doc} />
      {!approvable && !rejectable ? (
        <p className="muted">
          {t("workflow.noDecision")} <Status value={doc.status} />
        </p>
      ) : null}
      {approvable ? (
        <div>
          <button type="button" onClick={() => void decide("approve")} disabled={busy !== null}>
            {t("workflow.approve", { revision: doc.revision })}
          </button>
        </div>
      ) : null}
      {rejectable ? (
        <form className="stack" onSubmit={(e) => void decide("reject", e)}>
          <div className="field">
            <label htmlFor="reject-reason">{t("workflow.rejectReason")}</label>
            <textarea
              id="reject-reason"
              dir="auto"
              rows={2}
              maxLength={2000}
              value={reason}
              onChange={(e) => {
                setReason(e.target.value);
                setKey(newIdempotencyKey());
              }}
              aria-describedby="reject-help"
            />
            <p id="reject-help" className="help">
              {t("workflow.rejectHelp")}
            </p>
          </div>
          <div>
            <button type="submit" className="danger" disabled={busy !== null}>
              {t("workflow.reject", { revision: doc.revision })}
            </button>
          </div>
        </form>
      ) : null}
      <ProblemView problem={problem} />
    </section>
  );
}

function n8nLink(target: string, n8nId: string): string | null {
  try {
    const url = new URL(target);
    if (url.protocol !== "https:" && url.protocol !== "http:") return null;
    return `${url.origin}${url.pathname.replace(/\/$/, "")}/workflow/${encodeURIComponent(n8nId)}`;
  } catch {
    return null;
  }
}

function DeploymentView({ doc, onDone }: { doc: WorkflowDoc; onDone: () => Promise<void> }) {
  const { t } = useI18n();
  const { role } = useSession();
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const d = doc.deployment;
  const retryable = d && (d.status === "failed" || d.status === "needs_credentials") && can(role, "decide");

  async function redeploy(): Promise<void> {
    setBusy(true);
    setProblem(null);
    try {
      const accepted = await command(
        api.POST("/v1/workflows/{workflow_id}/deploy", {
          params: { path: { workflow_id: doc.workflow_id } },
          body: {},
          headers: { "Idempotency-Key": newIdempotencyKey() },
        }),
      );
      rememberToken(doc.workflow_id, accepted.consistency_token);
      await onDone();
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card stack" aria-labelledby="deploy-title">
      <h2 id="deploy-title">{t("workflow.deployment")}</h2>
      {!d ? (
        <p className="muted">{doc.status === "approved" ? t("workflow.approvedNotDeployed") : t("workflow.notDeployed")}</p>
      ) : (
        <>
          <dl className="pairs">
            <div>
              <dt>{t("workflow.deployStatus")}</dt>
              <dd>
                <Status value={d.status} /> {d.active ? <span className="badge tone-good">{t("workflow.active")}</span> : null}
              </dd>
            </div>
            <div>
              <dt>{t("workflow.deployRevision")}</dt>
              <dd>
                {d.revision} ({t("workflow.attempt", { attempt: d.attempt })})
              </dd>
            </div>
            <div>
              <dt>{t("workflow.instance")}</dt>
              <dd>
                <code>{d.target}</code>
              </dd>
            </div>
            {d.n8n_workflow_id ? (
              <div>
                <dt>{t("workflow.inN8n")}</dt>
                <dd>
                  {n8nLink(d.target, d.n8n_workflow_id) ? (
                    <a href={n8nLink(d.target, d.n8n_workflow_id) ?? undefined} target="_blank" rel="noreferrer noopener">
                      {t("workflow.openInN8n", { id: d.n8n_workflow_id })}
                    </a>
                  ) : (
                    <code>{d.n8n_workflow_id}</code>
                  )}
                  {d.n8n_version ? <span className="muted"> · n8n {d.n8n_version}</span> : null}
                </dd>
              </div>
            ) : null}
            <div>
              <dt>{t("workflow.requested")}</dt>
              <dd>
                <Time iso={d.requested_at} />
              </dd>
            </div>
            {d.finished_at ? (
              <div>
                <dt>{t("workflow.finished")}</dt>
                <dd>
                  <Time iso={d.finished_at} />
                </dd>
              </div>
            ) : null}
          </dl>
          {d.status === "failed" ? (
            <div className="problem" role="note">
              <p>
                <strong>{t("workflow.n8nSaid")}</strong> {d.http_status ? `(${d.http_status})` : ""} <Text value={d.message ?? ""} />
              </p>
              <p>{d.retryable ? t("workflow.retryable") : t("workflow.notRetryable")}</p>
            </div>
          ) : null}
          {(d.webhooks ?? []).length > 0 ? (
            <div>
              <h3>{t("workflow.webhooks")}</h3>
              <ul className="plain">
                {(d.webhooks ?? []).map((w) => (
                  <li key={`${w.method} ${w.url}`}>
                    <span className="badge tone-info">{w.method}</span> <code className="wrap">{w.url}</code>
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
          {(d.missing ?? []).length > 0 ? <MissingCredentials doc={doc} onDone={onDone} /> : null}
        </>
      )}
      {retryable ? (
        <div>
          <button type="button" className="secondary" disabled={busy} onClick={() => void redeploy()}>
            {t("workflow.deployAgain")}
          </button>
        </div>
      ) : null}
      <ProblemView problem={problem} />
    </section>
  );
}

function MissingCredentials({ doc, onDone }: { doc: WorkflowDoc; onDone: () => Promise<void> }) {
  const { t } = useI18n();
  const { role } = useSession();
  const missing = doc.deployment?.missing ?? [];
  const types = [...new Set(missing.map((m) => m.credential_type))];
  return (
    <div className="stack">
      <h3>{t("workflow.missing")}</h3>
      <TableScroll label={t("workflow.missing")}>
        <table>
          <thead>
            <tr>
              <th scope="col">{t("workflow.node")}</th>
              <th scope="col">{t("credentials.type")}</th>
              <th scope="col">{t("workflow.candidates")}</th>
            </tr>
          </thead>
          <tbody>
            {missing.map((m) => (
              <tr key={`${m.node}-${m.credential_type}`}>
                <td>{m.node}</td>
                <td>
                  <code>{m.credential_type}</code>
                </td>
                <td>{(m.candidates ?? []).join(", ") || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
      {can(role, "decide") ? (
        <div className="card inset">
          <h4>{t("workflow.connectMissing")}</h4>
          <CredentialForm defaultType={types[0] ?? ""} suggestions={types} onConnected={() => void onDone()} />
        </div>
      ) : null}
    </div>
  );
}

function problemsByNode(problems: Problem[]): Map<string, NodeProblems> {
  const out = new Map<string, NodeProblems>();
  for (const p of problems) {
    if (!p.node) continue;
    const entry = out.get(p.node) ?? { errors: 0, warnings: 0 };
    if ((p.severity ?? "error") === "warning") entry.warnings++;
    else entry.errors++;
    out.set(p.node, entry);
  }
  return out;
}

function RevisionView({ doc, revision }: { doc: WorkflowDoc; revision: Revision }) {
  const { t } = useI18n();
  const [selected, setSelected] = useState<string | null>(null);
  const workflow: N8nWorkflow | null = useMemo(() => parseWorkflow(revision.definition), [revision.definition]);
  const problems = revision.problems ?? [];
  const byNode = useMemo(() => problemsByNode(problems), [problems]);
  const sealed = redaction(revision.definition);
  const node = workflow?.nodes.find((n) => n.name === selected) ?? null;
  useEffect(() => setSelected(null), [revision.revision]);

  return (
    <section className="card stack" aria-labelledby="graph-title">
      <h2 id="graph-title">
        {t("workflow.graphTitle", { revision: revision.revision })}
        {revision.revision !== doc.revision ? <span className="badge tone-warn">{t("workflow.notCurrent")}</span> : null}
      </h2>
      <p className="meta">
        {t("workflow.validation")}: <Status value={revision.validation} />
        {revision.n8n_version ? <span className="muted"> · n8n {revision.n8n_version}</span> : null} · {t("workflow.drafted")}{" "}
        <Time iso={revision.drafted_at} />
      </p>
      {sealed ? (
        <p>
          <Redacted kind={sealed} /> {t("workflow.definitionRedacted")}
        </p>
      ) : null}
      {!sealed && !workflow ? <p className="problem">{t("workflow.notJson")}</p> : null}
      {workflow ? (
        <>
          <WorkflowGraph workflow={workflow} problems={byNode} selected={selected} onSelect={setSelected} labelledBy="graph-title" />
          <p className="legend small-text">
            <span className="legend-trigger" aria-hidden="true" /> {t("workflow.legendTrigger")}{" "}
            <span className="legend-error" aria-hidden="true" /> {t("workflow.legendError")}{" "}
            <span className="legend-warning" aria-hidden="true" /> {t("workflow.legendWarning")} · {t("workflow.legendSelect")}
          </p>
        </>
      ) : null}
      <div>
        <h3>{t("workflow.problems")}</h3>
        {problems.length === 0 ? (
          <p className="muted">{revision.validation === "pending" ? t("workflow.validationPending") : t("workflow.noProblems")}</p>
        ) : (
          <ul className="problems">
            {problems.map((p, i) => (
              <li key={i} className={`severity-${p.severity ?? "error"}`}>
                <Status value={p.severity ?? "error"} tone={(p.severity ?? "error") === "warning" ? "warn" : "bad"} /> <code>{p.code}</code>{" "}
                {p.node ? (
                  workflow?.nodes.some((n) => n.name === p.node) ? (
                    <button type="button" className="link" onClick={() => setSelected(p.node ?? null)} aria-pressed={selected === p.node}>
                      {p.node}
                    </button>
                  ) : (
                    <strong>{p.node}</strong>
                  )
                ) : null}
                {p.node ? ": " : ""}
                <Text value={p.message} />
              </li>
            ))}
          </ul>
        )}
      </div>
      {node ? (
        <div className="card inset node-detail" aria-live="polite">
          <h3>
            {t("workflow.node")}: {node.name}
          </h3>
          <p>
            <code>{node.type}</code> {node.typeVersion !== undefined ? `v${node.typeVersion}` : ""}{" "}
            {isTrigger(node.type) ? <span className="badge tone-info">{t("workflow.trigger")}</span> : null}
          </p>
          {problems
            .filter((p) => p.node === node.name)
            .map((p, i) => (
              <p key={i} className="problem">
                <code>{p.code}</code> <Text value={p.message} />
              </p>
            ))}
          <details>
            <summary>{t("workflow.parameters")}</summary>
            <pre className="code" dir="ltr">
              {JSON.stringify(node.parameters ?? {}, null, 2)}
            </pre>
          </details>
          <button type="button" className="secondary small" onClick={() => setSelected(null)}>
            {t("action.close")}
          </button>
        </div>
      ) : null}
      {workflow ? (
        <details>
          <summary>{t("workflow.nodesTable", { count: workflow.nodes.length })}</summary>
          <TableScroll label={t("workflow.nodesTableLabel")}>
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("workflow.node")}</th>
                  <th scope="col">{t("workflow.nodeType")}</th>
                  <th scope="col">{t("workflow.problems")}</th>
                </tr>
              </thead>
              <tbody>
                {workflow.nodes.map((n) => {
                  const p = byNode.get(n.name);
                  return (
                    <tr key={n.name}>
                      <td>
                        {n.name} {isTrigger(n.type) ? <span className="badge tone-info">{t("workflow.trigger")}</span> : null}
                      </td>
                      <td>
                        <code>{shortType(n.type)}</code>
                      </td>
                      <td>{p ? `${t("workflow.nodeErrors", { count: p.errors })}, ${t("workflow.nodeWarnings", { count: p.warnings })}` : "—"}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </TableScroll>
        </details>
      ) : null}
    </section>
  );
}

function History({ doc, shown }: { doc: WorkflowDoc; shown: number }) {
  const { t } = useI18n();
  const numbers = doc.revisions.map((r) => r.revision);
  const last = numbers[numbers.length - 1] ?? 1;
  const [to, setTo] = useState(last);
  const [from, setFrom] = useState(numbers[numbers.length - 2] ?? last);
  useEffect(() => {
    setTo(last);
    setFrom(numbers[numbers.length - 2] ?? last);
    // a new revision arrived: compare it with the one before
  }, [last]);
  const a = doc.revisions.find((r) => r.revision === from);
  const b = doc.revisions.find((r) => r.revision === to);
  return (
    <section className="card stack" aria-labelledby="history-title">
      <h2 id="history-title">{t("workflow.history")}</h2>
      <TableScroll label={t("workflow.history")}>
        <table>
          <thead>
            <tr>
              <th scope="col" className="num">
                {t("workflows.revision")}
              </th>
              <th scope="col">{t("workflows.name")}</th>
              <th scope="col">{t("workflow.validation")}</th>
              <th scope="col">{t("workflow.drafted")}</th>
              <th scope="col">SHA-256</th>
            </tr>
          </thead>
          <tbody>
            {[...doc.revisions].reverse().map((r) => (
              <tr key={r.revision} className={r.revision === shown ? "row-current" : undefined}>
                <td className="num">{r.revision}</td>
                <td>
                  {r.revision === shown ? (
                    <span aria-current="true">
                      <Text value={r.name} /> <span className="badge tone-info">{t("workflow.shown")}</span>
                    </span>
                  ) : (
                    <a href={href({ page: "workflow", id: doc.workflow_id, revision: r.revision })} title={t("workflow.showRevision", { revision: r.revision })}>
                      <Text value={r.name} />
                    </a>
                  )}
                </td>
                <td>
                  <Status value={r.validation} />
                </td>
                <td>
                  <Time iso={r.drafted_at} />
                </td>
                <td>
                  <code title={r.definition_sha256}>{r.definition_sha256.slice(0, 12)}…</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
      {numbers.length > 1 ? (
        <div className="stack">
          <h3>{t("workflow.diff")}</h3>
          <div className="filters">
            <div className="field inline">
              <label htmlFor="diff-from">{t("workflow.diffFrom")}</label>
              <select id="diff-from" value={from} onChange={(e) => setFrom(Number(e.target.value))}>
                {numbers.map((n) => (
                  <option key={n} value={n}>
                    {t("workflow.revisionN", { revision: n })}
                  </option>
                ))}
              </select>
            </div>
            <div className="field inline">
              <label htmlFor="diff-to">{t("workflow.diffTo")}</label>
              <select id="diff-to" value={to} onChange={(e) => setTo(Number(e.target.value))}>
                {numbers.map((n) => (
                  <option key={n} value={n}>
                    {t("workflow.revisionN", { revision: n })}
                  </option>
                ))}
              </select>
            </div>
          </div>
          {a && b ? <RevisionDiff a={a} b={b} /> : null}
        </div>
      ) : (
        <p className="muted">{t("workflow.oneRevision")}</p>
      )}
      <p>
        <button type="button" className="link" onClick={() => navigate({ page: "workflow", id: doc.workflow_id })}>
          {t("workflow.showCurrent")}
        </button>
      </p>
    </section>
  );
}

function RevisionDiff({ a, b }: { a: Revision; b: Revision }) {
  const { t } = useI18n();
  const sealedA = redaction(a.definition);
  const sealedB = redaction(b.definition);
  if (sealedA || sealedB) {
    return (
      <p>
        <Redacted kind={(sealedA ?? sealedB) as "sealed" | "shredded"} /> {t("workflow.diffRedacted")}
      </p>
    );
  }
  return (
    <DiffView
      before={prettyJson(a.definition)}
      after={prettyJson(b.definition)}
      label={t("workflow.diffLabel", { from: a.revision, to: b.revision })}
    />
  );
}
