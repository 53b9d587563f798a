/**
 * A workflow revision's CycloneDX 1.6 SBOM as readable tables, and the exact bytes to download. The
 * document is read as text so the download is byte for byte what the API serves (and its signature covers).
 */

import { useEffect, useMemo, useState } from "react";
import { api, call, type Schemas } from "../api/client";
import { type ApiProblem, problemOf } from "../api/problem";
import { Empty, Loading, ProblemView, TableScroll, Text, Time } from "../components/common";
import { useI18n } from "../context";
import { formatCost, formatNumber } from "../i18n/i18n";
import { href, navigate } from "../router";

interface Property {
  name: string;
  value: string;
}

interface Component {
  "bom-ref"?: string;
  type: string;
  name: string;
  group?: string;
  version?: string;
  description?: string;
  purl?: string;
  hashes?: { alg: string; content: string }[];
  properties?: Property[];
  modelCard?: ModelCard;
  supplier?: { name?: string };
}

interface ModelCard {
  modelParameters?: {
    task?: string;
    architectureFamily?: string;
    modelArchitecture?: string;
    inputs?: { format?: string }[];
    outputs?: { format?: string }[];
  };
  considerations?: { useCases?: string[]; technicalLimitations?: string[]; ethicalConsiderations?: { name?: string }[] };
}

interface Service {
  "bom-ref"?: string;
  name: string;
  version?: string;
  provider?: { name?: string };
  endpoints?: string[];
  authenticated?: boolean;
  "x-trust-boundary"?: boolean;
  trustZone?: string;
  data?: { flow: string; classification: string }[];
  properties?: Property[];
}

interface Task {
  "bom-ref"?: string;
  name?: string;
  taskTypes?: string[];
  timeStart?: string;
  timeEnd?: string;
  inputs?: { resource?: { ref?: string } }[];
}

interface CycloneDx {
  bomFormat?: string;
  specVersion?: string;
  serialNumber?: string;
  version?: number;
  metadata?: { timestamp?: string; component?: Component; tools?: { components?: Component[] } };
  components?: Component[];
  services?: Service[];
  formulation?: { workflows?: { name?: string; tasks?: Task[] }[] }[];
}

export function props(component: { properties?: Property[] } | undefined, name: string): string[] {
  return (component?.properties ?? []).filter((p) => p.name === name).map((p) => p.value);
}

function prop(component: { properties?: Property[] } | undefined, name: string): string | undefined {
  return props(component, name)[0];
}

function sha256(component: Component): string | undefined {
  return component.hashes?.find((h) => h.alg === "SHA-256")?.content;
}

async function digest(text: string): Promise<string | null> {
  if (!globalThis.crypto?.subtle) return null; // only in secure contexts
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function SbomPage({ id, revision }: { id: string; revision: number | undefined }) {
  const { t, lang } = useI18n();
  const [text, setText] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [workflow, setWorkflow] = useState<Schemas["WorkflowDoc"] | null>(null);
  const [signature, setSignature] = useState<Schemas["SbomSignature"] | null>(null);
  const [hash, setHash] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    setText(null);
    setProblem(null);
    setSignature(null);
    const query = revision ? { revision } : {};
    call(api.GET("/v1/workflows/{workflow_id}/sbom", { params: { path: { workflow_id: id }, query }, parseAs: "text" })).then(
      (body) => {
        if (!live) return;
        setText(body as unknown as string);
        void digest(body as unknown as string).then((h) => live && setHash(h));
      },
      (e: unknown) => live && setProblem(problemOf(e)),
    );
    call(api.GET("/v1/workflows/{workflow_id}/sbom/signature", { params: { path: { workflow_id: id }, query } })).then(
      (s) => live && setSignature(s),
      () => undefined, // no keyring: the document is shown without its signature
    );
    call(api.GET("/v1/workflows/{workflow_id}", { params: { path: { workflow_id: id } } })).then(
      (w) => live && setWorkflow(w),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [id, revision]);

  const bom = useMemo<CycloneDx | null>(() => {
    if (text === null) return null;
    try {
      return JSON.parse(text) as CycloneDx;
    } catch {
      return null;
    }
  }, [text]);
  const [download, setDownload] = useState<string | null>(null);
  useEffect(() => {
    if (text === null) {
      setDownload(null);
      return undefined;
    }
    const url = URL.createObjectURL(new Blob([text], { type: "application/vnd.cyclonedx+json" }));
    setDownload(url);
    return () => URL.revokeObjectURL(url);
  }, [text]);

  const subject = bom?.metadata?.component;
  const number = Number(subject?.version ?? revision ?? 0);
  const components = bom?.components ?? [];
  const models = components.filter((c) => c.type === "machine-learning-model");
  const prompts = components.filter((c) => c.type === "data");
  const nodes = components.filter((c) => c.type === "library");
  const services = bom?.services ?? [];
  const tasks = bom?.formulation?.flatMap((f) => f.workflows ?? []).flatMap((w) => w.tasks ?? []) ?? [];

  return (
    <>
      <div className="page-head">
        <p className="breadcrumb">
          <a href={href({ page: "workflows" })}>{t("nav.workflows")}</a> ›{" "}
          <a href={href({ page: "workflow", id })}>{workflow ? <Text value={workflow.name} /> : t("workflow.title")}</a>
        </p>
        <h1>{t("sbom.title")}</h1>
        {workflow && workflow.revisions.length > 1 ? (
          <div className="field inline">
            <label htmlFor="sbom-revision">{t("workflows.revision")}</label>
            <select
              id="sbom-revision"
              value={revision ?? workflow.revision}
              onChange={(e) => navigate({ page: "sbom", id, revision: Number(e.target.value) })}
            >
              {workflow.revisions.map((r) => (
                <option key={r.revision} value={r.revision}>
                  {t("workflow.revisionN", { revision: r.revision })}
                </option>
              ))}
            </select>
          </div>
        ) : null}
      </div>
      <ProblemView problem={problem} />
      {text === null && !problem ? <Loading /> : null}
      {text !== null && bom === null ? <p className="problem">{t("sbom.notJson")}</p> : null}
      {bom && subject ? (
        <>
          <section className="card stack" aria-labelledby="sbom-doc">
            <h2 id="sbom-doc">{t("sbom.document")}</h2>
            <dl className="pairs">
              <div>
                <dt>{t("sbom.format")}</dt>
                <dd>
                  {bom.bomFormat} {bom.specVersion}
                </dd>
              </div>
              <div>
                <dt>{t("sbom.serial")}</dt>
                <dd>
                  <code className="wrap">{bom.serialNumber}</code>
                </dd>
              </div>
              <div>
                <dt>{t("sbom.workflow")}</dt>
                <dd>
                  <Text value={subject.name} /> · {t("workflow.revisionN", { revision: subject.version ?? "?" })}
                </dd>
              </div>
              <div>
                <dt>{t("sbom.status")}</dt>
                <dd>{prop(subject, "aiwf:workflow:status") ?? "—"}</dd>
              </div>
              <div>
                <dt>{t("sbom.classification")}</dt>
                <dd>{prop(subject, "aiwf:data:classification") ?? "—"}</dd>
              </div>
              <div>
                <dt>{t("sbom.definitionHash")}</dt>
                <dd>
                  <code className="wrap">{sha256(subject) ?? "—"}</code>
                </dd>
              </div>
              <div>
                <dt>{t("sbom.timestamp")}</dt>
                <dd>
                  <Time iso={bom.metadata?.timestamp} />
                </dd>
              </div>
              {signature ? (
                <div>
                  <dt>{t("sbom.signature")}</dt>
                  <dd>
                    {t("sbom.signedWith", { algorithm: signature.algorithm, version: signature.key_version })}
                    {hash ? (
                      <span className={`badge ${hash === signature.sha256 ? "tone-good" : "tone-bad"}`}>
                        {hash === signature.sha256 ? t("sbom.hashMatches") : t("sbom.hashDiffers")}
                      </span>
                    ) : null}
                  </dd>
                </div>
              ) : null}
            </dl>
            {download ? (
              <p>
                <a className="button" href={download} download={`sbom-${id}-r${number}.cdx.json`}>
                  {t("sbom.download")}
                </a>
              </p>
            ) : null}
          </section>

          <section className="card" aria-labelledby="sbom-models">
            <h2 id="sbom-models">{t("sbom.models")}</h2>
            {models.length === 0 ? <Empty>{t("sbom.none")}</Empty> : null}
            {models.map((m) => (
              <article key={m["bom-ref"] ?? m.name} className="model">
                <h3>
                  <code>{m.name}</code> <span className="muted">({m.group ?? prop(m, "aiwf:inference:provider") ?? "?"})</span>
                </h3>
                {m.description ? <p>{m.description}</p> : null}
                <dl className="pairs">
                  <div>
                    <dt>{t("sbom.roles")}</dt>
                    <dd>{props(m, "aiwf:inference:role").join(", ") || "—"}</dd>
                  </div>
                  <div>
                    <dt>{t("state.calls")}</dt>
                    <dd>{formatNumber(lang, Number(prop(m, "aiwf:inference:calls") ?? 0))}</dd>
                  </div>
                  <div>
                    <dt>{t("state.tokens")}</dt>
                    <dd>
                      {formatNumber(lang, Number(prop(m, "aiwf:inference:input-tokens") ?? 0))} /{" "}
                      {formatNumber(lang, Number(prop(m, "aiwf:inference:output-tokens") ?? 0))}
                    </dd>
                  </div>
                  <div>
                    <dt>{t("state.cost")}</dt>
                    <dd>{formatCost(lang, Number(prop(m, "aiwf:inference:cost-micro-usd") ?? 0))}</dd>
                  </div>
                </dl>
                {m.modelCard ? <ModelCardView card={m.modelCard} /> : null}
              </article>
            ))}
          </section>

          <section className="card" aria-labelledby="sbom-prompts">
            <h2 id="sbom-prompts">{t("sbom.prompts")}</h2>
            {prompts.length === 0 ? (
              <Empty>{t("sbom.none")}</Empty>
            ) : (
              <TableScroll label={t("sbom.prompts")}>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t("sbom.template")}</th>
                      <th scope="col">{t("sbom.version")}</th>
                      <th scope="col">{t("sbom.role")}</th>
                      <th scope="col">SHA-256</th>
                    </tr>
                  </thead>
                  <tbody>
                    {prompts.map((p) => (
                      <tr key={p["bom-ref"] ?? p.name}>
                        <td>
                          <code>{p.name}</code>
                        </td>
                        <td>{p.version}</td>
                        <td>{prop(p, "aiwf:prompt:role") ?? "—"}</td>
                        <td>
                          <code className="hash" title={sha256(p)}>
                            {sha256(p)?.slice(0, 16)}…
                          </code>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableScroll>
            )}
          </section>

          <section className="card" aria-labelledby="sbom-nodes">
            <h2 id="sbom-nodes">{t("sbom.nodes")}</h2>
            {nodes.length === 0 ? (
              <Empty>{t("sbom.none")}</Empty>
            ) : (
              <TableScroll label={t("sbom.nodes")}>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t("workflow.node")}</th>
                      <th scope="col">{t("workflow.nodeType")}</th>
                      <th scope="col">{t("sbom.typeVersion")}</th>
                      <th scope="col">{t("sbom.package")}</th>
                      <th scope="col">{t("sbom.credentialTypes")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {nodes.map((n) => (
                      <tr key={n["bom-ref"] ?? n.name}>
                        <td>{prop(n, "aiwf:n8n:node-name") ?? "—"}</td>
                        <td>
                          <code>{n.name}</code>
                        </td>
                        <td>{prop(n, "aiwf:n8n:type-version") ?? "—"}</td>
                        <td>
                          <code>{n.purl ?? `${n.group ?? ""}@${n.version ?? ""}`}</code>
                        </td>
                        <td>{props(n, "aiwf:n8n:credential-type").join(", ") || "—"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableScroll>
            )}
          </section>

          <section className="card" aria-labelledby="sbom-services">
            <h2 id="sbom-services">{t("sbom.services")}</h2>
            {services.length === 0 ? (
              <Empty>{t("sbom.noServices")}</Empty>
            ) : (
              <TableScroll label={t("sbom.services")}>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t("sbom.service")}</th>
                      <th scope="col">{t("sbom.trustZone")}</th>
                      <th scope="col">{t("sbom.boundary")}</th>
                      <th scope="col">{t("sbom.endpoints")}</th>
                      <th scope="col">{t("sbom.dataSent")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {services.map((s) => (
                      <tr key={s["bom-ref"] ?? s.name}>
                        <td>
                          {s.name}
                          {s.provider?.name ? <div className="muted small-text">{s.provider.name}</div> : null}
                          {s.version ? <div className="muted small-text">{s.version}</div> : null}
                        </td>
                        <td>
                          <span className={`badge ${s.trustZone === "cloud" || s.trustZone === "remote" ? "tone-warn" : "tone-good"}`}>
                            {s.trustZone ?? "—"}
                          </span>
                        </td>
                        <td>
                          {s["x-trust-boundary"] ? t("sbom.crosses") : t("sbom.staysInside")}
                          <div className="muted small-text">{s.authenticated ? t("sbom.authenticated") : t("sbom.unauthenticated")}</div>
                        </td>
                        <td>
                          {(s.endpoints ?? []).map((e) => (
                            <code key={e} className="wrap block">
                              {e}
                            </code>
                          ))}
                        </td>
                        <td>
                          <ul className="plain">
                            {(s.data ?? []).map((d) => (
                              <li key={`${d.flow}-${d.classification}`}>
                                {d.flow === "outbound" ? t("sbom.outbound") : d.flow === "inbound" ? t("sbom.inbound") : d.flow}:{" "}
                                <strong>{d.classification}</strong>
                              </li>
                            ))}
                          </ul>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableScroll>
            )}
          </section>

          <section className="card" aria-labelledby="sbom-steps">
            <h2 id="sbom-steps">{t("sbom.formulation")}</h2>
            {tasks.length === 0 ? (
              <Empty>{t("sbom.none")}</Empty>
            ) : (
              <TableScroll label={t("sbom.formulation")}>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t("sbom.step")}</th>
                      <th scope="col">{t("sbom.kind")}</th>
                      <th scope="col">{t("sbom.started")}</th>
                      <th scope="col">{t("sbom.inputs")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {tasks.map((task, i) => (
                      <tr key={task["bom-ref"] ?? i}>
                        <td>{task.name}</td>
                        <td>{(task.taskTypes ?? []).join(", ")}</td>
                        <td>
                          <Time iso={task.timeStart} />
                        </td>
                        <td className="small-text">
                          {(task.inputs ?? []).map((input, k) => (
                            <code key={k} className="block wrap">
                              {input.resource?.ref}
                            </code>
                          ))}
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

function ModelCardView({ card }: { card: ModelCard }) {
  const { t } = useI18n();
  const p = card.modelParameters;
  const c = card.considerations;
  return (
    <details className="model-card">
      <summary>{t("sbom.modelCard")}</summary>
      <dl className="pairs">
        {p?.task ? (
          <div>
            <dt>{t("sbom.task")}</dt>
            <dd>{p.task}</dd>
          </div>
        ) : null}
        {p?.architectureFamily ? (
          <div>
            <dt>{t("sbom.architecture")}</dt>
            <dd>
              {p.architectureFamily}
              {p.modelArchitecture ? ` — ${p.modelArchitecture}` : ""}
            </dd>
          </div>
        ) : null}
        {p?.inputs?.length ? (
          <div>
            <dt>{t("sbom.inputFormats")}</dt>
            <dd>{p.inputs.map((i) => i.format).join("; ")}</dd>
          </div>
        ) : null}
        {p?.outputs?.length ? (
          <div>
            <dt>{t("sbom.outputFormats")}</dt>
            <dd>{p.outputs.map((o) => o.format).join("; ")}</dd>
          </div>
        ) : null}
      </dl>
      {c?.useCases?.length ? (
        <>
          <h4>{t("sbom.useCases")}</h4>
          <ul>
            {c.useCases.map((u) => (
              <li key={u}>{u}</li>
            ))}
          </ul>
        </>
      ) : null}
      {c?.technicalLimitations?.length ? (
        <>
          <h4>{t("sbom.limitations")}</h4>
          <ul>
            {c.technicalLimitations.map((u) => (
              <li key={u}>{u}</li>
            ))}
          </ul>
        </>
      ) : null}
    </details>
  );
}
