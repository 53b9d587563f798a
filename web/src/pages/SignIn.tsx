import { type FormEvent, useState } from "react";
import { api, call, setApiKey } from "../api/client";
import { type ApiProblem, problemOf } from "../api/problem";
import { ProblemView } from "../components/common";
import { type Me, useI18n } from "../context";
import type { MessageKey } from "../i18n/i18n";
import { LanguageSwitch } from "../components/LanguageSwitch";

export function SignIn({ notice, onSignedIn }: { notice: MessageKey | null; onSignedIn: (key: string, me: Me) => void }) {
  const { t } = useI18n();
  const [key, setKey] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent): Promise<void> {
    event.preventDefault();
    const token = key.trim();
    if (!token) return;
    setBusy(true);
    setProblem(null);
    setApiKey(token);
    try {
      const me = await call(api.GET("/v1/me"));
      onSignedIn(token, me);
    } catch (error) {
      setApiKey(null);
      setProblem(problemOf(error));
      setBusy(false);
    }
  }

  return (
    <>
      <header className="app-header signin-header">
        <div className="brand">{t("app.name")}</div>
        <div className="header-tools">
          <LanguageSwitch />
        </div>
      </header>
      <main id="main" className="signin">
        <h1>{t("signIn.title")}</h1>
        <p>{t("signIn.intro")}</p>
        {notice ? (
          <p className="notice" role="status">
            {t(notice)}
          </p>
        ) : null}
        <form onSubmit={submit} className="card stack">
          <div className="field">
            <label htmlFor="api-key">{t("signIn.key")}</label>
            <input
              id="api-key"
              name="api-key"
              type="password"
              autoComplete="off"
              spellCheck={false}
              required
              value={key}
              onChange={(e) => setKey(e.target.value)}
              aria-describedby="api-key-help"
              aria-invalid={problem ? true : undefined}
            />
            <p id="api-key-help" className="help">
              {t("signIn.keyHelp")}
            </p>
          </div>
          {problem?.status === 401 ? (
            <p className="field-error" role="alert">
              {t("signIn.refused")}
            </p>
          ) : null}
          <ProblemView problem={problem} />
          <div>
            <button type="submit" disabled={busy}>
              {busy ? t("signIn.checking") : t("signIn.submit")}
            </button>
          </div>
        </form>
      </main>
    </>
  );
}
