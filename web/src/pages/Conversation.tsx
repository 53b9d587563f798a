/**
 * A conversation: its messages, a composer, and what the agents do as it happens. The page reads the
 * conversation and its messages, then follows its SSE stream from the version it read: each event adds
 * a message or moves the agents' panel, which is the AgentState as it was after that event (read from
 * the log with ?version=N, so it is never behind the stream).
 */

import { type FormEvent, type KeyboardEvent, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, call, command, newIdempotencyKey, takeToken, type Schemas } from "../api/client";
import { type ApiProblem, fieldError, problemOf } from "../api/problem";
import { can } from "../auth/roles";
import { AgentName } from "../components/agents";
import { Empty, LiveStatus, Loading, ProblemView, Redacted, redaction, Status, Text, Time } from "../components/common";
import { useI18n, useSession } from "../context";
import { num, parseEvent, str } from "../events";
import { useDebounced, useLiveStream } from "../hooks";
import { href } from "../router";
import { awaitingReply, type ChatMessage, mergeMessages, type Pending, workflowsByReply } from "../chat";

type Conversation = Schemas["ConversationRow"];
type AgentState = Schemas["AgentStateDoc"];
type WorkflowDoc = Schemas["WorkflowDoc"];

const MAX_MESSAGE_CHARS = 8000;

async function readAllMessages(id: string, headers: Record<string, string>): Promise<ChatMessage[]> {
  const out: ChatMessage[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 50; page++) {
    const query: { limit: number; cursor?: string } = cursor ? { limit: 200, cursor } : { limit: 200 };
    const answer: Schemas["MessageList"] = await call(
      api.GET("/v1/conversations/{conversation_id}/messages", { params: { path: { conversation_id: id }, query }, headers }),
    );
    out.push(...answer.items);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return out;
}

export function ConversationPage({ id }: { id: string }) {
  const { t } = useI18n();
  const { role, me } = useSession();
  const [conversation, setConversation] = useState<Conversation | null>(null);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [streamUrl, setStreamUrl] = useState<string | null>(null);
  const [resumeFrom, setResumeFrom] = useState<string | undefined>(undefined);
  const [version, setVersion] = useState(0);
  const [state, setState] = useState<AgentState | null>(null);
  const [stateProblem, setStateProblem] = useState<ApiProblem | null>(null);
  const [pending, setPending] = useState<Pending[]>([]);
  const [ready, setReady] = useState(false);
  // Versions of the user messages shown: the stream may deliver a message before its POST has answered.
  const shownVersions = useRef(new Set<number>());

  const load = useCallback(async () => {
    setProblem(null);
    try {
      const headers = takeToken(id);
      const [row, history] = await Promise.all([
        call(api.GET("/v1/conversations/{conversation_id}", { params: { path: { conversation_id: id } }, headers })),
        readAllMessages(id, headers),
      ]);
      setConversation(row);
      for (const m of history) if (m.role === "user") shownVersions.current.add(m.version);
      setMessages((previous) => mergeMessages(previous, history));
      setVersion((v) => Math.max(v, row.last_version));
      setResumeFrom(String(row.last_version));
      setStreamUrl(`/v1/conversations/${encodeURIComponent(id)}/stream`);
    } catch (error) {
      setProblem(problemOf(error));
    }
  }, [id]);

  useEffect(() => {
    void load();
  }, [load]);

  const readState = useCallback(
    async (at: number) => {
      if (at < 1) return;
      try {
        const doc = await call(
          api.GET("/v1/conversations/{conversation_id}/agent-state", { params: { path: { conversation_id: id }, query: { version: at } } }),
        );
        setState((previous) => (previous && previous.last_version > doc.last_version ? previous : doc));
        setStateProblem(null);
      } catch (error) {
        setStateProblem(problemOf(error));
      }
    },
    [id],
  );
  const readStateSoon = useDebounced(readState, 150);

  useEffect(() => {
    if (conversation) void readState(conversation.last_version);
  }, [conversation, readState]);

  useEffect(() => {
    if (conversation && !ready) {
      setReady(true);
      performance.mark("aiwf:chat-ready");
    }
  }, [conversation, ready]);

  const status = useLiveStream(
    streamUrl,
    (message) => {
      const event = parseEvent(message.data);
      const at = Number(message.id);
      if (!event || !Number.isFinite(at)) return;
      setVersion((v) => Math.max(v, at));
      const d = event.data;
      if (event.type.startsWith("aiwf.conversation.user_message_received") || event.type.startsWith("aiwf.conversation.assistant_replied")) {
        const user = event.type.includes("user_message_received");
        const chat: ChatMessage = {
          message_id: str(d.message_id) ?? `v${at}`,
          role: user ? "user" : "assistant",
          text: str(d.text) ?? "",
          sensitivity: str(d.sensitivity) ?? "public",
          created_at: str(user ? d.received_at : d.replied_at) ?? event.time,
          version: at,
          ...(str(d.kind) ? { kind: str(d.kind) } : {}),
          ...(str(d.workflow_id) ? { workflow_id: str(d.workflow_id) } : {}),
          ...(num(d.workflow_revision) !== undefined ? { workflow_revision: num(d.workflow_revision) } : {}),
        };
        setMessages((previous) => mergeMessages(previous, [chat]));
        if (user) {
          shownVersions.current.add(at);
          setPending((previous) => previous.filter((p) => p.version !== at));
        }
      }
      if (event.type.startsWith("aiwf.conversation.closed")) {
        setConversation((c) => (c ? { ...c, status: "closed", closed_at: str(d.closed_at) ?? event.time } : c));
      }
      readStateSoon(at);
    },
    {
      ...(resumeFrom !== undefined ? { lastEventId: resumeFrom } : {}),
      onGap: () => void load(),
    },
  );

  const refs = useMemo(() => workflowsByReply(messages, state), [messages, state]);
  const working = useMemo(() => awaitingReply(messages, pending), [messages, pending]);

  if (problem && !conversation) {
    return (
      <>
        <h1>{t("conversation.title")}</h1>
        <ProblemView problem={problem} onRetry={() => void load()} />
      </>
    );
  }
  if (!conversation) return <Loading />;

  const open = conversation.status === "open";
  return (
    <>
      <div className="page-head">
        <p className="breadcrumb">
          <a href={href({ page: "conversations" })}>{t("nav.conversations")}</a>
        </p>
        <h1>{conversation.title ? <Text value={conversation.title} /> : t("conversations.untitled")}</h1>
        <p className="meta">
          <Status value={conversation.status} /> · <Time iso={conversation.started_at} />
          {conversation.customer_id ? (
            <>
              {" "}
              · {t("conversations.customer")} <code>{conversation.customer_id}</code>
            </>
          ) : null}{" "}
          · <a href={href({ page: "agent-state", id })}>{t("conversation.openState")}</a>
        </p>
        <LiveStatus status={status} />
      </div>
      <div className="columns chat-columns">
        <section aria-labelledby="messages-title" className="column-main chat">
          <h2 id="messages-title" className="visually-hidden">
            {t("conversation.messages")}
          </h2>
          <div role="log" aria-live="polite" aria-relevant="additions" aria-label={t("conversation.messages")}>
          <ol className="messages">
            {messages.length === 0 && pending.length === 0 ? (
              <li className="empty">{t("conversation.noMessages")}</li>
            ) : null}
            {messages.map((m) => (
              <MessageItem key={m.message_id} message={m} workflow={refs.get(m.message_id)} mine={conversation.started_by === me.key_id} />
            ))}
            {pending.map((p) => (
              <li key={`pending-${p.version}`} className="message message-user pending">
                <p className="message-text" dir="auto">
                  {p.text}
                </p>
                <p className="message-meta">{t("conversation.sending")}</p>
              </li>
            ))}
          </ol>
          </div>
          {working ? (
            <p className="working" role="status">
              <span className="dots" aria-hidden="true" /> {t("conversation.working")}
            </p>
          ) : null}
          {open && can(role, "chat") ? (
            <Composer
              id={id}
              onSent={(p) => {
                if (!shownVersions.current.has(p.version)) setPending((previous) => [...previous, p]);
              }}
            />
          ) : null}
          {!open ? <p className="notice">{t("conversation.closed")}</p> : null}
          {open && !can(role, "chat") ? <p className="notice">{t("conversation.readOnly")}</p> : null}
        </section>
        <aside aria-labelledby="agents-title" className="column-side">
          <AgentsPanel state={state} problem={stateProblem} version={version} conversationId={id} />
        </aside>
      </div>
    </>
  );
}

function MessageItem({
  message,
  workflow,
  mine,
}: {
  message: ChatMessage;
  workflow: { id: string; revision: number | null } | undefined;
  /** The conversation was started with this key: its user messages are "you". */
  mine: boolean;
}) {
  const { t } = useI18n();
  const kind = redaction(message.text);
  const who = message.role === "user" ? (mine ? t("conversation.you") : t("conversation.user")) : t("conversation.assistant");
  return (
    <li className={`message message-${message.role === "user" ? "user" : "assistant"}`}>
      <p className="message-who">{who}</p>
      {kind ? (
        <p className="message-text">
          <Redacted kind={kind} />
        </p>
      ) : (
        <p className="message-text" dir="auto">
          {message.text}
        </p>
      )}
      {workflow ? (
        <p className="message-workflow">
          <a href={href({ page: "workflow", id: workflow.id })}>
            {workflow.revision ? t("conversation.openWorkflowRevision", { revision: workflow.revision }) : t("conversation.openWorkflow")}
          </a>
        </p>
      ) : null}
      <p className="message-meta">
        <Time iso={message.created_at} />
        {message.sensitivity !== "public" ? (
          <>
            {" "}
            · <Status value={message.sensitivity} tone="warn" />
          </>
        ) : null}
      </p>
    </li>
  );
}

function Composer({ id, onSent }: { id: string; onSent: (pending: Pending) => void }) {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per text: sending the same text again after a failure cannot record it twice.
  const [idempotencyKey, setIdempotencyKey] = useState(newIdempotencyKey);
  const area = useRef<HTMLTextAreaElement>(null);

  async function send(event?: FormEvent): Promise<void> {
    event?.preventDefault();
    const body = text.trim();
    if (!body || busy) return;
    setBusy(true);
    setProblem(null);
    try {
      const accepted = await command(
        api.POST("/v1/conversations/{conversation_id}/messages", {
          params: { path: { conversation_id: id } },
          body: { text: body },
          headers: { "Idempotency-Key": idempotencyKey },
        }),
      );
      onSent({ text: body, version: accepted.version });
      setText("");
      setIdempotencyKey(newIdempotencyKey());
    } catch (error) {
      setProblem(problemOf(error)); // the text stays in the box
    } finally {
      setBusy(false);
      area.current?.focus();
    }
  }

  function keyDown(event: KeyboardEvent<HTMLTextAreaElement>): void {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) void send();
  }

  const textError = fieldError(problem, "text");
  return (
    <form className="composer" onSubmit={send}>
      <label htmlFor="composer-text">{t("conversation.message")}</label>
      <textarea
        id="composer-text"
        ref={area}
        dir="auto"
        rows={3}
        maxLength={MAX_MESSAGE_CHARS}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setIdempotencyKey(newIdempotencyKey());
        }}
        onKeyDown={keyDown}
        aria-describedby="composer-help"
        aria-invalid={textError ? true : undefined}
      />
      <div className="composer-bar">
        <p id="composer-help" className="help">
          {t("conversation.composerHelp")}
        </p>
        <button type="submit" disabled={busy || text.trim() === ""}>
          {busy ? t("conversation.sendingButton") : t("conversation.send")}
        </button>
      </div>
      <ProblemView problem={problem} />
    </form>
  );
}

function AgentsPanel({
  state,
  problem,
  version,
  conversationId,
}: {
  state: AgentState | null;
  problem: ApiProblem | null;
  version: number;
  conversationId: string;
}) {
  const { t } = useI18n();
  const latest = new Map<string, { id: string; revision: number | null }>();
  for (const w of state?.workflows ?? []) latest.set(w.workflow_id, { id: w.workflow_id, revision: w.revision });
  return (
    <div className="card stack agents-panel">
      <h2 id="agents-title">{t("conversation.agents")}</h2>
      <ProblemView problem={problem} />
      {state === null && !problem ? <Loading /> : null}
      {state ? (
        <>
          {state.intents.length > 0 ? (
            <div>
              <h3>{t("state.intents")}</h3>
              <ul className="chips">
                {state.intents.map((intent) => (
                  <li key={intent.name} className="chip">
                    {intent.name.replaceAll("_", " ")} <span className="muted">{intent.confidence}%</span>
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
          <div>
            <h3>{t("state.delegations")}</h3>
            {state.delegations.length === 0 ? <Empty>{t("state.noDelegations")}</Empty> : null}
            <ul className="delegations">
              {latestTurn(state.delegations).map((d) => (
                <li key={d.delegation_id}>
                  <AgentName agent={d.agent} /> <Status value={d.status} />
                  {d.finding ? (
                    <p className="finding">
                      <Text value={d.finding.summary} />
                    </p>
                  ) : null}
                </li>
              ))}
            </ul>
          </div>
          {state.open_question ? (
            <div>
              <h3>{t("state.openQuestion")}</h3>
              <p>
                <Text value={state.open_question} />
              </p>
            </div>
          ) : null}
          <div>
            <h3>{t("state.workflows")}</h3>
            {latest.size === 0 ? <Empty>{t("state.noWorkflows")}</Empty> : null}
            <ul className="plain">
              {[...latest.values()].map((w) => (
                <WorkflowCard key={w.id} id={w.id} revision={w.revision} version={version} />
              ))}
            </ul>
          </div>
          <p className="muted small-text">
            {t("conversation.stateAt", { version: state.last_version })} ·{" "}
            <a href={href({ page: "agent-state", id: conversationId })}>{t("conversation.openState")}</a>
          </p>
        </>
      ) : null}
    </div>
  );
}

/** The delegations of the latest message (the AgentState page has them all). */
function latestTurn(delegations: AgentState["delegations"]): AgentState["delegations"] {
  const last = delegations[delegations.length - 1];
  return last ? delegations.filter((d) => d.message_id === last.message_id) : [];
}

/**
 * A workflow of the conversation: its name and status, read again as the conversation moves. The
 * workflow's read model may not have folded the revision the conversation already announced: then it
 * is read again shortly, a few times.
 */
function WorkflowCard({ id, revision, version }: { id: string; revision: number | null; version: number }) {
  const { t } = useI18n();
  const [doc, setDoc] = useState<WorkflowDoc | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = (attempt: number): void => {
      call(api.GET("/v1/workflows/{workflow_id}", { params: { path: { workflow_id: id } } })).then(
        (w) => {
          if (!live) return;
          setDoc(w);
          setProblem(null);
          if (revision !== null && w.revision < revision && attempt < 10) timer = setTimeout(() => read(attempt + 1), 300 * (attempt + 1));
        },
        (error: unknown) => {
          if (!live) return;
          const p = problemOf(error);
          setProblem(p);
          if (p.status === 404 && attempt < 10) timer = setTimeout(() => read(attempt + 1), 300 * (attempt + 1));
        },
      );
    };
    read(0);
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [id, revision, version]);
  return (
    <li className="workflow-card">
      {doc ? (
        <>
          <a href={href({ page: "workflow", id })}>
            <Text value={doc.name} />
          </a>{" "}
          <Status value={doc.status} /> <span className="muted">{t("workflow.revisionN", { revision: doc.revision })}</span>
        </>
      ) : (
        <a href={href({ page: "workflow", id })}>{id}</a>
      )}
      <ProblemView problem={problem && problem.status !== 404 ? problem : null} />
    </li>
  );
}
