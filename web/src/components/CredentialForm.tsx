/**
 * Connect an n8n credential (POST /v1/credentials): its type, a name, and its data as fields. The data
 * goes to n8n, which checks it against its schema for the type and keeps it; our log keeps only the
 * type, the name and n8n's id.
 */

import { type FormEvent, useId, useState } from "react";
import { api, command, newIdempotencyKey, type Accepted } from "../api/client";
import { type ApiProblem, fieldError, problemOf } from "../api/problem";
import { useI18n } from "../context";
import { ProblemView } from "./common";

interface Field {
  key: string;
  value: string;
}

export function CredentialForm({
  defaultType = "",
  suggestions = [],
  onConnected,
}: {
  defaultType?: string;
  /** Types to offer (those a workflow waits for). */
  suggestions?: string[];
  onConnected?: (accepted: Accepted) => void;
}) {
  const { t } = useI18n();
  const uid = useId();
  const [type, setType] = useState(defaultType);
  const [name, setName] = useState("");
  const [fields, setFields] = useState<Field[]>([{ key: "", value: "" }]);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [idempotencyKey, setIdempotencyKey] = useState(newIdempotencyKey);

  const changed = (): void => {
    setIdempotencyKey(newIdempotencyKey());
    setDone(null);
  };

  async function submit(event: FormEvent): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const data: Record<string, string> = {};
    for (const f of fields) if (f.key.trim()) data[f.key.trim()] = f.value;
    try {
      const accepted = await command(
        api.POST("/v1/credentials", { body: { type: type.trim(), name: name.trim(), data }, headers: { "Idempotency-Key": idempotencyKey } }),
      );
      setDone(name.trim());
      setFields([{ key: "", value: "" }]);
      setIdempotencyKey(newIdempotencyKey());
      onConnected?.(accepted);
    } catch (error) {
      setProblem(problemOf(error));
    } finally {
      setBusy(false);
    }
  }

  const typeError = fieldError(problem, "type");
  const nameError = fieldError(problem, "name");
  return (
    <form className="stack credential-form" onSubmit={submit}>
      <div className="field">
        <label htmlFor={`${uid}-type`}>{t("credentials.type")}</label>
        <input
          id={`${uid}-type`}
          required
          pattern="^[A-Za-z][A-Za-z0-9]{0,99}$"
          value={type}
          onChange={(e) => {
            setType(e.target.value);
            changed();
          }}
          aria-invalid={typeError ? true : undefined}
          aria-describedby={`${uid}-type-help`}
          list={suggestions.length > 0 ? `${uid}-types` : undefined}
          autoComplete="off"
          spellCheck={false}
        />
        {suggestions.length > 0 ? (
          <datalist id={`${uid}-types`}>
            {suggestions.map((x) => (
              <option key={x} value={x} />
            ))}
          </datalist>
        ) : null}
        <p id={`${uid}-type-help`} className="help">
          {typeError ?? t("credentials.typeHelp")}
        </p>
      </div>
      <div className="field">
        <label htmlFor={`${uid}-name`}>{t("credentials.name")}</label>
        <input
          id={`${uid}-name`}
          required
          maxLength={128}
          value={name}
          onChange={(e) => {
            setName(e.target.value);
            changed();
          }}
          aria-invalid={nameError ? true : undefined}
        />
      </div>
      <fieldset>
        <legend>{t("credentials.data")}</legend>
        <p className="help">{t("credentials.dataHelp")}</p>
        {fields.map((f, i) => (
          <div key={i} className="kv-row">
            <div className="field">
              <label htmlFor={`${uid}-k${i}`}>{t("credentials.fieldName", { n: i + 1 })}</label>
              <input
                id={`${uid}-k${i}`}
                value={f.key}
                autoComplete="off"
                spellCheck={false}
                onChange={(e) => {
                  setFields(fields.map((x, j) => (j === i ? { ...x, key: e.target.value } : x)));
                  changed();
                }}
              />
            </div>
            <div className="field">
              <label htmlFor={`${uid}-v${i}`}>{t("credentials.fieldValue", { n: i + 1 })}</label>
              <input
                id={`${uid}-v${i}`}
                type="password"
                autoComplete="new-password"
                value={f.value}
                onChange={(e) => {
                  setFields(fields.map((x, j) => (j === i ? { ...x, value: e.target.value } : x)));
                  changed();
                }}
              />
            </div>
            {fields.length > 1 ? (
              <button
                type="button"
                className="link"
                onClick={() => {
                  setFields(fields.filter((_, j) => j !== i));
                  changed();
                }}
              >
                {t("credentials.removeField", { n: i + 1 })}
              </button>
            ) : null}
          </div>
        ))}
        <button type="button" className="secondary small" onClick={() => setFields([...fields, { key: "", value: "" }])}>
          {t("credentials.addField")}
        </button>
      </fieldset>
      <ProblemView problem={problem} />
      {done ? (
        <p className="notice" role="status">
          {t("credentials.connected", { name: done })}
        </p>
      ) : null}
      <div>
        <button type="submit" disabled={busy}>
          {t("credentials.connect")}
        </button>
      </div>
    </form>
  );
}
