import { type FormEvent, useCallback, useEffect, useState } from "react";
import { api, call, command, newIdempotencyKey, rememberToken, type Schemas } from "../api/client";
import { type ApiProblem, fieldError, problemOf } from "../api/problem";
import { can } from "../auth/roles";
import { Empty, Loading, ProblemView, Status, Text, Time } from "../components/common";
import { useI18n, useSession } from "../context";
import { href, navigate } from "../router";

type Conversation = Schemas["ConversationRow"];

const PAGE = 20;
const CUSTOMER = "^[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}$";

export function ConversationsPage() {
  const { t } = useI18n();
  const { role } = useSession();
  const [items, setItems] = useState<Conversation[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [customer, setCustomer] = useState("");
  const [filter, setFilter] = useState("");

  const load = useCallback(
    async (cursor: string | null) => {
      setLoading(true);
      setProblem(null);
      try {
        const page = await call(
          api.GET("/v1/conversations", {
            params: { query: { limit: PAGE, ...(cursor ? { cursor } : {}), ...(filter ? { customer_id: filter } : {}) } },
          }),
        );
        setItems((previous) => (cursor ? [...previous, ...page.items] : page.items));
        setNext(page.next_cursor);
      } catch (error) {
        setProblem(problemOf(error));
      } finally {
        setLoading(false);
      }
    },
    [filter],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  return (
    <>
      <div className="page-head">
        <h1>{t("conversations.title")}</h1>
      </div>
      <div className="columns side-first-when-narrow">
        <section aria-labelledby="list-title" className="column-main">
          <h2 id="list-title" className="visually-hidden">
            {t("conversations.list")}
          </h2>
          <form
            className="filters"
            role="search"
            onSubmit={(e) => {
              e.preventDefault();
              setFilter(customer.trim());
            }}
          >
            <div className="field inline">
              <label htmlFor="filter-customer">{t("conversations.filterCustomer")}</label>
              <input id="filter-customer" value={customer} onChange={(e) => setCustomer(e.target.value)} pattern={CUSTOMER} />
            </div>
            <button type="submit" className="secondary">
              {t("action.filter")}
            </button>
            {filter ? (
              <button
                type="button"
                className="link"
                onClick={() => {
                  setCustomer("");
                  setFilter("");
                }}
              >
                {t("action.clearFilter")}
              </button>
            ) : null}
          </form>
          <ProblemView problem={problem} onRetry={() => void load(null)} />
          {items.length === 0 && !loading && !problem ? <Empty>{t("conversations.none")}</Empty> : null}
          <ul className="cards">
            {items.map((c) => (
              <li key={c.conversation_id} className="card conversation-card">
                <h3>
                  <a href={href({ page: "conversation", id: c.conversation_id })}>
                    {c.title ? <Text value={c.title} /> : t("conversations.untitled")}
                  </a>
                </h3>
                <p className="meta">
                  <Status value={c.status} /> <span>{t("conversations.messages", { count: c.message_count })}</span> ·{" "}
                  <Time iso={c.started_at} />
                  {c.customer_id ? (
                    <>
                      {" "}
                      · <span>{t("conversations.customer")}</span> <code>{c.customer_id}</code>
                    </>
                  ) : null}
                </p>
              </li>
            ))}
          </ul>
          {loading ? <Loading /> : null}
          {next && !loading ? (
            <button type="button" className="secondary" onClick={() => void load(next)}>
              {t("action.loadMore")}
            </button>
          ) : null}
        </section>
        {can(role, "chat") ? <StartConversation /> : null}
      </div>
    </>
  );
}

function StartConversation() {
  const { t } = useI18n();
  const [title, setTitle] = useState("");
  const [customer, setCustomer] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const [idempotencyKey, setIdempotencyKey] = useState(newIdempotencyKey);

  async function submit(event: FormEvent): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const body = { ...(title.trim() ? { title: title.trim() } : {}), ...(customer.trim() ? { customer_id: customer.trim() } : {}) };
      const accepted = await command(api.POST("/v1/conversations", { body, headers: { "Idempotency-Key": idempotencyKey } }));
      const id = accepted.conversation_id;
      setIdempotencyKey(newIdempotencyKey());
      if (id) {
        rememberToken(id, accepted.consistency_token);
        navigate({ page: "conversation", id });
      }
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  const titleError = fieldError(problem, "title");
  const customerError = fieldError(problem, "customer_id");
  return (
    <section aria-labelledby="start-title" className="column-side">
      <form className="card stack" onSubmit={submit}>
        <h2 id="start-title">{t("conversations.start")}</h2>
        <div className="field">
          <label htmlFor="new-title">{t("conversations.newTitle")}</label>
          <input
            id="new-title"
            dir="auto"
            maxLength={200}
            value={title}
            onChange={(e) => {
              setTitle(e.target.value);
              setIdempotencyKey(newIdempotencyKey());
            }}
            aria-invalid={titleError ? true : undefined}
            aria-describedby={titleError ? "new-title-error" : undefined}
          />
          {titleError ? (
            <p id="new-title-error" className="field-error">
              {titleError}
            </p>
          ) : null}
        </div>
        <div className="field">
          <label htmlFor="new-customer">{t("conversations.newCustomer")}</label>
          <input
            id="new-customer"
            value={customer}
            pattern={CUSTOMER}
            maxLength={64}
            onChange={(e) => {
              setCustomer(e.target.value);
              setIdempotencyKey(newIdempotencyKey());
            }}
            aria-invalid={customerError ? true : undefined}
            aria-describedby={customerError ? "new-customer-help new-customer-error" : "new-customer-help"}
          />
          <p id="new-customer-help" className="help">
            {t("conversations.customerHelp")}
          </p>
          {customerError ? (
            <p id="new-customer-error" className="field-error">
              {customerError}
            </p>
          ) : null}
        </div>
        <ProblemView problem={problem && !titleError && !customerError ? problem : null} />
        <div>
          <button type="submit" disabled={busy}>
            {t("conversations.startButton")}
          </button>
        </div>
      </form>
    </section>
  );
}
