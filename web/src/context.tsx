/** What every page reads: the language and its `t`, and who is signed in (tenant, role). */

import { createContext, useContext } from "react";
import type { Schemas } from "./api/client";
import type { Role } from "./auth/roles";
import { type Lang, type Translate, translate } from "./i18n/i18n";

export interface I18n {
  lang: Lang;
  setLang: (lang: Lang) => void;
  t: Translate;
}

export const I18nContext = createContext<I18n>({
  lang: "en",
  setLang: () => undefined,
  t: (key, params) => translate("en", key, params),
});

export function useI18n(): I18n {
  return useContext(I18nContext);
}

export type Me = Schemas["Me"];

export interface Session {
  me: Me;
  role: Role;
  signOut: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error("useSession outside a signed-in session");
  return session;
}
