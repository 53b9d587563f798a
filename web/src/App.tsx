/** The app: sign-in until a key is accepted, then the shell (header, navigation, the page of the route). */

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, call, onUnauthorized, setApiKey } from "./api/client";
import { type ApiProblem, problemOf } from "./api/problem";
import { can, isRole, type Section, sectionsFor } from "./auth/roles";
import { Loading, ProblemView } from "./components/common";
import { LanguageSwitch } from "./components/LanguageSwitch";
import { I18nContext, type Me, type Session, SessionContext, useI18n, useSession } from "./context";
import { defaultLang, type Lang, type MessageKey, translate } from "./i18n/i18n";
import { AgentStatePage } from "./pages/AgentState";
import { ConversationPage } from "./pages/Conversation";
import { ConversationsPage } from "./pages/Conversations";
import { CredentialsPage } from "./pages/Credentials";
import { EventsPage } from "./pages/Events";
import { OperationsPage } from "./pages/Operations";
import { SbomPage } from "./pages/Sbom";
import { SignIn } from "./pages/SignIn";
import { WorkflowPage } from "./pages/Workflow";
import { WorkflowsPage } from "./pages/Workflows";
import { href, type Route, routeNeeds, useRoute } from "./router";
import { clearKey, loadKey, loadLang, saveKey, saveLang } from "./session";

function browserLanguages(): readonly string[] {
  return navigator.languages?.length ? navigator.languages : [navigator.language];
}

export function App() {
  const [lang, setLangState] = useState<Lang>(() => loadLang() ?? defaultLang(browserLanguages()));
  const setLang = useCallback((next: Lang) => {
    saveLang(next);
    setLangState(next);
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const i18n = useMemo(() => ({ lang, setLang, t: (key: MessageKey, params?: Record<string, string | number>) => translate(lang, key, params) }), [lang, setLang]);

  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(() => loadKey() !== null);
  const [startProblem, setStartProblem] = useState<ApiProblem | null>(null);
  const [notice, setNotice] = useState<MessageKey | null>(null);

  const signOut = useCallback((why: MessageKey | null = null) => {
    clearKey();
    setApiKey(null);
    setMe(null);
    setNotice(why);
  }, []);

  const resume = useCallback(() => {
    const key = loadKey();
    if (key === null) return;
    setApiKey(key);
    setChecking(true);
    call(api.GET("/v1/me")).then(
      (who) => {
        setMe(who);
        setStartProblem(null);
        setChecking(false);
      },
      (error: unknown) => {
        const problem = problemOf(error);
        if (problem.status === 401) signOut("session.expired");
        else setStartProblem(problem);
        setChecking(false);
      },
    );
  }, [signOut]);

  useEffect(resume, [resume]);
  // Only a signed-in session ends on a 401; the sign-in form shows its own.
  const signedInNow = useRef(false);
  signedInNow.current = me !== null;
  useEffect(() => onUnauthorized(() => signedInNow.current && signOut("session.expired")), [signOut]);

  const signedIn = useCallback((key: string, who: Me) => {
    saveKey(key);
    setNotice(null);
    setMe(who);
  }, []);

  let body;
  if (checking) {
    body = (
      <main id="main" className="centered">
        <Loading what={translate(lang, "session.checking")} />
      </main>
    );
  } else if (me === null && startProblem) {
    body = (
      <main id="main" className="centered">
        <h1>{translate(lang, "app.name")}</h1>
        <ProblemView problem={startProblem} onRetry={resume} />
        <button type="button" className="secondary" onClick={() => signOut()}>
          {translate(lang, "action.signOut")}
        </button>
      </main>
    );
  } else if (me === null || !isRole(me.role)) {
    body = <SignIn notice={notice} onSignedIn={signedIn} />;
  } else {
    const role = me.role;
    body = (
      <SessionContext.Provider value={{ me, role, signOut: () => signOut("session.signedOut") }}>
        <Shell />
      </SessionContext.Provider>
    );
  }
  return <I18nContext.Provider value={i18n}>{body}</I18nContext.Provider>;
}

const SECTION_LABEL: Record<Section, MessageKey> = {
  conversations: "nav.conversations",
  workflows: "nav.workflows",
  credentials: "nav.credentials",
  events: "nav.events",
  operations: "nav.operations",
};

function sectionOf(route: Route): Section | null {
  switch (route.page) {
    case "conversations":
    case "conversation":
    case "agent-state":
      return "conversations";
    case "workflows":
    case "workflow":
    case "sbom":
      return "workflows";
    case "credentials":
      return "credentials";
    case "events":
      return "events";
    case "operations":
      return "operations";
    default:
      return null;
  }
}

function Shell() {
  const { t } = useI18n();
  const session = useSession();
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  const current = sectionOf(route);

  useEffect(() => {
    // A new view: move the keyboard and the screen reader to it (not on the first load).
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
    window.scrollTo(0, 0);
  }, [route.page, "id" in route ? route.id : ""]);

  return (
    <>
      <a className="skip-link" href="#main" onClick={(e) => { e.preventDefault(); main.current?.focus(); }}>
        {t("nav.skip")}
      </a>
      <header className="app-header">
        <div className="brand">
          <a href={href({ page: "conversations" })}>{t("app.name")}</a>
        </div>
        <nav aria-label={t("nav.label")} className="main-nav">
          <ul>
            {sectionsFor(session.role).map((section) => (
              <li key={section}>
                <a href={href({ page: section })} aria-current={current === section ? "page" : undefined}>
                  {t(SECTION_LABEL[section])}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="header-tools">
          <p className="who">
            <span className="visually-hidden">{t("session.signedInAs")} </span>
            <span>{session.me.tenant}</span> · <span>{t(`role.${session.role}`)}</span>
          </p>
          <LanguageSwitch />
          <button type="button" className="secondary small" onClick={session.signOut}>
            {t("action.signOut")}
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Page route={route} />
      </main>
    </>
  );
}

function Page({ route }: { route: Route }) {
  const { t } = useI18n();
  const { role } = useSession();
  useEffect(() => {
    document.title = `${t(`title.${route.page}`)} · ${t("app.name")}`;
  }, [route.page, t]);
  if (!can(role, routeNeeds(route))) {
    return (
      <section aria-labelledby="denied-title">
        <h1 id="denied-title">{t("denied.title")}</h1>
        <p>{t("denied.body", { role: t(`role.${role}`) })}</p>
        <p>
          <a href={href({ page: "conversations" })}>{t("nav.conversations")}</a>
        </p>
      </section>
    );
  }
  switch (route.page) {
    case "conversations":
      return <ConversationsPage />;
    case "conversation":
      return <ConversationPage key={route.id} id={route.id} />;
    case "agent-state":
      return <AgentStatePage key={route.id} id={route.id} version={route.version} />;
    case "workflows":
      return <WorkflowsPage />;
    case "workflow":
      return <WorkflowPage key={route.id} id={route.id} revision={route.revision} />;
    case "sbom":
      return <SbomPage key={route.id} id={route.id} revision={route.revision} />;
    case "credentials":
      return <CredentialsPage type={route.type} />;
    case "events":
      return <EventsPage type={route.type} stream={route.stream} since={route.since} />;
    case "operations":
      return <OperationsPage days={route.days} />;
    case "not-found":
      return (
        <section aria-labelledby="nf-title">
          <h1 id="nf-title">{t("notFound.title")}</h1>
          <p>
            <a href={href({ page: "conversations" })}>{t("nav.conversations")}</a>
          </p>
        </section>
      );
  }
}

export type { Session };
