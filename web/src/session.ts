/**
 * The API key lives in this tab's session storage only: gone when the tab closes, never in local storage,
 * a cookie or the URL. The language choice is not a secret and is remembered in local storage.
 */

import type { Lang } from "./i18n/i18n";

const KEY = "aiwf.apiKey";
const LANG = "aiwf.lang";

function storage(kind: "sessionStorage" | "localStorage"): Storage | null {
  try {
    return window[kind];
  } catch {
    return null; // storage disabled: the key lasts as long as the page
  }
}

export function loadKey(): string | null {
  return storage("sessionStorage")?.getItem(KEY) ?? null;
}

export function saveKey(key: string): void {
  storage("sessionStorage")?.setItem(KEY, key);
}

export function clearKey(): void {
  storage("sessionStorage")?.removeItem(KEY);
}

export function loadLang(): Lang | null {
  const value = storage("localStorage")?.getItem(LANG);
  return value === "en" || value === "fr" ? value : null;
}

export function saveLang(lang: Lang): void {
  storage("localStorage")?.setItem(LANG, lang);
}
