import { useState } from "react";
import { api, call, command, newIdempotencyKey } from "../api/client";
import { type ApiProblem, problemOf } from "../api/problem";
import { can } from "../auth/roles";
import { CredentialForm } from "../components/CredentialForm";
import { Empty, Loading, ProblemView, TableScroll, Time } from "../components/common";
import { useI18n, useSession } from "../context";
import { useLoad } from "../hooks";
import { href } from "../router";

export function CredentialsPage({ type }: { type: string | undefined }) {
  const { t } = useI18n();
  const { role } = useSession();
  const list = useLoad(() => call(api.GET("/v1/credentials")), []);
  const [problem, setProblem] = useState<ApiProblem | null>(null);

  async function remove(id: string, name: string): Promise<void> {
    if (!window.confirm(t("credentials.confirmRemove", { name }))) return;
    setProblem(null);
    try {
      await command(api.DELETE("/v1/credentials/{credential_id}", { params: { path: { credential_id: id } }, headers: { "Idempotency-Key": newIdempotencyKey() } }));
      list.reload();
    } catch (error) {
      setProblem(problemOf(error));
    }
  }

  const data = list.data;
  return (
    <>
      <div className="page-head">
        <h1>{t("credentials.title")}</h1>
        <p className="muted">{t("credentials.intro")}</p>
      </div>
      <div className="columns">
        <div className="column-main stack">
          <ProblemView problem={list.problem} onRetry={list.reload} />
          <ProblemView problem={problem} />
          {list.loading && !data ? <Loading /> : null}
          {data ? (
            <>
              <section className="card" aria-labelledby="connected-title">
                <h2 id="connected-title">{t("credentials.connectedTitle")}</h2>
                {data.items.length === 0 ? (
                  <Empty>{t("credentials.none")}</Empty>
                ) : (
                  <TableScroll label={t("credentials.connectedTitle")}>
                    <table>
                      <thead>
                        <tr>
                          <th scope="col">{t("credentials.name")}</th>
                          <th scope="col">{t("credentials.type")}</th>
                          <th scope="col">{t("credentials.n8nId")}</th>
                          <th scope="col">{t("credentials.connectedAt")}</th>
                          {can(role, "decide") ? (
                            <th scope="col">
                              <span className="visually-hidden">{t("credentials.actions")}</span>
                            </th>
                          ) : null}
                        </tr>
                      </thead>
                      <tbody>
                        {data.items.map((c) => (
                          <tr key={c.credential_id}>
                            <td>{c.name}</td>
                            <td>
                              <code>{c.type}</code>
                            </td>
                            <td>
                              <code>{c.credential_id}</code>
                            </td>
                            <td>
                              <Time iso={c.connected_at} />
                            </td>
                            {can(role, "decide") ? (
                              <td>
                                <button type="button" className="link danger-text" onClick={() => void remove(c.credential_id, c.name)}>
                                  {t("credentials.remove", { name: c.name })}
                                </button>
                              </td>
                            ) : null}
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </TableScroll>
                )}
              </section>
              <section className="card" aria-labelledby="awaited-title">
                <h2 id="awaited-title">{t("credentials.awaitedTitle")}</h2>
                {data.awaited.length === 0 ? (
                  <Empty>{t("credentials.noneAwaited")}</Empty>
                ) : (
                  <ul>
                    {data.awaited.map((a) => (
                      <li key={a.workflow_id}>
                        <a href={href({ page: "workflow", id: a.workflow_id })}>{t("credentials.workflow")}</a>:{" "}
                        {a.types.map((x) => (
                          <a key={x} className="chip" href={href({ page: "credentials", type: x })}>
                            {x}
                          </a>
                        ))}
                      </li>
                    ))}
                  </ul>
                )}
              </section>
            </>
          ) : null}
        </div>
        {can(role, "decide") ? (
          <section className="column-side card" aria-labelledby="connect-title">
            <h2 id="connect-title">{t("credentials.connectTitle")}</h2>
            <CredentialForm
              key={type ?? ""}
              defaultType={type ?? ""}
              suggestions={[...new Set((data?.awaited ?? []).flatMap((a) => a.types))]}
              onConnected={list.reload}
            />
          </section>
        ) : null}
      </div>
    </>
  );
}
