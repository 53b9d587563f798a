/** Pieces every page uses: problems, redacted values, times, statuses, live state, scrollable tables. */

import type { ReactNode } from "react";
import type { ApiProblem } from "../api/problem";
import { useI18n } from "../context";
import { formatTime, isMessageKey } from "../i18n/i18n";
import type { StreamStatus } from "../sse/stream";

/** An API problem, shown plainly next to what failed. */
export function ProblemView({ problem, onRetry }: { problem: ApiProblem | null | undefined; onRetry?: () => void }) {
  const { t } = useI18n();
  if (!problem) return null;
  const unreachable = problem.status === 0;
  return (
    <div className="problem" role="alert">
      <p className="problem-title">
        <strong>{unreachable && !problem.title ? t("problem.unreachable") : problem.title}</strong>
        {problem.status > 0 ? <span className="problem-status"> ({problem.status})</span> : null}
      </p>
      {problem.detail ? <p className="problem-detail">{problem.detail}</p> : null}
      {problem.errors.length > 0 ? (
        <ul className="problem-errors">
          {problem.errors.map((e, i) => (
            <li key={i}>
              {e.field ? <code>{e.field}</code> : null} {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      {problem.status === 403 ? <p className="problem-detail">{t("problem.forbidden")}</p> : null}
      {problem.instance ? (
        <p className="problem-instance">
          {t("problem.reference")} <code>{problem.instance}</code>
        </p>
      ) : null}
      {onRetry ? (
        <button type="button" className="secondary" onClick={onRetry}>
          {t("action.retry")}
        </button>
      ) : null}
    </div>
  );
}

const SEALED_PREFIX = "aiwf:enc:1:";

export type RedactionKind = "shredded" | "sealed";

/** `[shredded]` (the subject's keys destroyed), `[sealed]` or a sealed string: never shown as text. */
export function redaction(value: unknown): RedactionKind | null {
  if (typeof value !== "string") return null;
  if (value === "[shredded]") return "shredded";
  if (value === "[sealed]" || value.startsWith(SEALED_PREFIX)) return "sealed";
  return null;
}

export function Redacted({ kind }: { kind: RedactionKind }) {
  const { t } = useI18n();
  return (
    <span className={`redacted redacted-${kind}`} title={t(kind === "shredded" ? "redacted.shreddedHelp" : "redacted.sealedHelp")}>
      <svg aria-hidden="true" className="redacted-icon" viewBox="0 0 16 16" width="12" height="12">
        {kind === "shredded" ? (
          <path d="M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zm0 1.5a5 5 0 0 1 3.9 8.1L4.9 4.1A5 5 0 0 1 8 3zm-3.9 1.9 7 7A5 5 0 0 1 4.1 4.9z" />
        ) : (
          <path d="M5 7V5a3 3 0 0 1 6 0v2h1v7H4V7h1zm1.5 0h3V5a1.5 1.5 0 0 0-3 0v2z" />
        )}
      </svg>
      {t(kind === "shredded" ? "redacted.shredded" : "redacted.sealed")}
    </span>
  );
}

/** A text from the API: a redacted value is marked as such; anything else as it is (dir=auto). */
export function Text({ value, className }: { value: string | null | undefined; className?: string }) {
  const kind = redaction(value);
  if (kind) return <Redacted kind={kind} />;
  if (value === null || value === undefined || value === "") return <span className="muted">—</span>;
  return (
    <bdi dir="auto" className={className}>
      {value}
    </bdi>
  );
}

/** Any JSON value, with redacted strings marked (a box that scrolls, so it can be focused). */
export function JsonView({ value, label }: { value: unknown; label?: string }) {
  const { t } = useI18n();
  return (
    <div className="json" dir="ltr" role="group" aria-label={label ?? t("events.data")} tabIndex={0}>
      <JsonNode value={value} indent={0} />
    </div>
  );
}

function JsonNode({ value, indent }: { value: unknown; indent: number }): ReactNode {
  const pad = "  ".repeat(indent + 1);
  const close = "  ".repeat(indent);
  if (value === null || typeof value !== "object") {
    const kind = redaction(value);
    if (kind) return <Redacted kind={kind} />;
    return <span className={`json-${value === null ? "null" : typeof value}`}>{JSON.stringify(value)}</span>;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return (
      <>
        {"[\n"}
        {value.map((item, i) => (
          <span key={i}>
            {pad}
            <JsonNode value={item} indent={indent + 1} />
            {i < value.length - 1 ? ",\n" : "\n"}
          </span>
        ))}
        {close}]
      </>
    );
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return "{}";
  return (
    <>
      {"{\n"}
      {entries.map(([key, item], i) => (
        <span key={key}>
          {pad}
          <span className="json-key">{JSON.stringify(key)}</span>:{" "}
          <JsonNode value={item} indent={indent + 1} />
          {i < entries.length - 1 ? ",\n" : "\n"}
        </span>
      ))}
      {close}
      {"}"}
    </>
  );
}

export function Time({ iso }: { iso: string | null | undefined }) {
  const { lang } = useI18n();
  if (!iso) return <span className="muted">—</span>;
  return <time dateTime={iso}>{formatTime(lang, iso)}</time>;
}

export function Loading({ what }: { what?: string }) {
  const { t } = useI18n();
  return (
    <p className="loading" role="status">
      {what ?? t("app.loading")}
    </p>
  );
}

const STATUS_TONE: Record<string, string> = {
  open: "info",
  closed: "neutral",
  drafted: "info",
  validated: "good",
  valid: "good",
  invalid: "bad",
  pending: "neutral",
  approved: "good",
  rejected: "bad",
  deploying: "info",
  deployed: "good",
  needs_credentials: "warn",
  deployment_failed: "bad",
  failed: "bad",
  retired: "neutral",
  delegated: "info",
  answered: "good",
  ok: "good",
  refused: "bad",
  error: "bad",
  invalid_output: "warn",
  closed_circuit: "good",
  half_open: "warn",
};

/** A status word, translated when we know it, with a tone that is never its only sign. */
export function Status({ value, tone }: { value: string; tone?: string }) {
  const { t } = useI18n();
  const key = `status.${value}`;
  const label = isMessageKey(key) ? t(key) : value.replaceAll("_", " ");
  return <span className={`badge tone-${tone ?? STATUS_TONE[value] ?? "neutral"}`}>{label}</span>;
}

export function LiveStatus({ status, label }: { status: StreamStatus; label?: string }) {
  const { t, lang } = useI18n();
  let text: string;
  let tone: string;
  switch (status.state) {
    case "open":
      text = t("live.open");
      tone = "good";
      break;
    case "connecting":
      text = t("live.connecting");
      tone = "info";
      break;
    case "reconnecting":
      text =
        status.retryInMs !== undefined
          ? t("live.reconnectingIn", { seconds: new Intl.NumberFormat(lang).format(Math.ceil(status.retryInMs / 1000)) })
          : t("live.reconnecting");
      tone = "warn";
      break;
    default:
      text = t("live.stopped");
      tone = "neutral";
  }
  return (
    <div className="live-status">
      <span className={`live-dot tone-${tone}`} aria-hidden="true" />
      <span role="status">
        {label ? `${label}: ` : ""}
        {text}
      </span>
      {status.state === "stopped" && status.problem ? <ProblemView problem={status.problem} /> : null}
    </div>
  );
}

/** A table that scrolls sideways on a narrow screen; focusable so a keyboard can scroll it. */
export function TableScroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-scroll" role="group" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

export function shortId(id: string): string {
  return id.length > 13 ? `${id.slice(0, 8)}…` : id;
}
