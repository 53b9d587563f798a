import { useCallback, useEffect, useState } from "react";
import { api, call, type Schemas } from "../api/client";
import { type ApiProblem, problemOf } from "../api/problem";
import { Empty, Loading, ProblemView, Status, TableScroll, Text, Time } from "../components/common";
import { useI18n } from "../context";
import { href } from "../router";

type Summary = Schemas["WorkflowSummary"];
type StatusFilter = NonNullable<NonNullable<NonNullable<import("../api/schema").operations["V1WorkflowsList"]["parameters"]["query"]>["status"]>>;

export const WORKFLOW_STATUSES: StatusFilter[] = [
  "drafted",
  "validated",
  "invalid",
  "approved",
  "rejected",
  "deploying",
  "deployed",
  "needs_credentials",
  "deployment_failed",
  "retired",
];

export function WorkflowsPage() {
  const { t } = useI18n();
  const [status, setStatus] = useState<StatusFilter | "">("");
  const [items, setItems] = useState<Summary[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [problem, setProblem] = useState<ApiProblem | null>(null);

  const load = useCallback(
    async (cursor: string | null) => {
      setLoading(true);
      setProblem(null);
      try {
        const page = await call(
          api.GET("/v1/workflows", { params: { query: { limit: 25, ...(cursor ? { cursor } : {}), ...(status ? { status } : {}) } } }),
        );
        setItems((previous) => (cursor ? [...previous, ...page.items] : page.items));
        setNext(page.next_cursor);
      } catch (error) {
        setProblem(problemOf(error));
      } finally {
        setLoading(false);
      }
    },
    [status],
  );
  useEffect(() => {
    void load(null);
  }, [load]);

  return (
    <>
      <div className="page-head">
        <h1>{t("workflows.title")}</h1>
      </div>
      <div className="filters">
        <div className="field inline">
          <label htmlFor="status-filter">{t("workflows.status")}</label>
          <select id="status-filter" value={status} onChange={(e) => setStatus(e.target.value as StatusFilter | "")}>
            <option value="">{t("workflows.any")}</option>
            {WORKFLOW_STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}`)}
              </option>
            ))}
          </select>
        </div>
      </div>
      <ProblemView problem={problem} onRetry={() => void load(null)} />
      {items.length === 0 && !loading && !problem ? <Empty>{t("workflows.none")}</Empty> : null}
      {items.length > 0 ? (
        <TableScroll label={t("workflows.title")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("workflows.name")}</th>
                <th scope="col">{t("workflows.status")}</th>
                <th scope="col" className="num">
                  {t("workflows.revision")}
                </th>
                <th scope="col">{t("workflows.updated")}</th>
                <th scope="col">{t("workflows.conversation")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((w) => (
                <tr key={w.workflow_id}>
                  <td>
                    <a href={href({ page: "workflow", id: w.workflow_id })}>
                      <Text value={w.name} />
                    </a>
                  </td>
                  <td>
                    <Status value={w.status} />
                  </td>
                  <td className="num">{w.revision}</td>
                  <td>
                    <Time iso={w.updated_at} />
                  </td>
                  <td>
                    <a href={href({ page: "conversation", id: w.conversation_id })}>{t("workflows.openConversation")}</a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      ) : null}
      {loading ? <Loading /> : null}
      {next && !loading ? (
        <button type="button" className="secondary" onClick={() => void load(next)}>
          {t("action.loadMore")}
        </button>
      ) : null}
    </>
  );
}
