/**
 * Interface labels in English and French: two plain dictionaries with the same keys (the French one is
 * typed by the English one, and a test checks that both use the same placeholders). Message texts are
 * the users' own and are never translated.
 */

import { en } from "./en";
import { fr } from "./fr";

export type Lang = "en" | "fr";
export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;
export type Params = Record<string, string | number>;

export const LANGS: readonly Lang[] = ["en", "fr"];
export const DICTIONARIES: Record<Lang, Messages> = { en, fr };

/** The first of the browser's languages we have, else English. */
export function defaultLang(languages: readonly string[]): Lang {
  for (const tag of languages) {
    const base = tag.toLowerCase().split("-")[0];
    if (base === "fr" || base === "en") return base;
  }
  return "en";
}

export function isMessageKey(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}

export function translate(lang: Lang, key: MessageKey, params?: Params): string {
  const template = DICTIONARIES[lang][key] ?? en[key];
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

/** `{name}` placeholders of a template, sorted. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? "").sort();
}

export type Translate = (key: MessageKey, params?: Params) => string;

const LOCALES: Record<Lang, string> = { en: "en-GB", fr: "fr-FR" };

export function locale(lang: Lang): string {
  return LOCALES[lang];
}

export function formatTime(lang: Lang, iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(LOCALES[lang], { dateStyle: "medium", timeStyle: "medium" }).format(date);
}

export function formatNumber(lang: Lang, value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return new Intl.NumberFormat(LOCALES[lang]).format(value);
}

/** Micro-dollars as dollars: small amounts keep their digits ($0.000123). */
export function formatCost(lang: Lang, microUsd: number | null | undefined): string {
  if (microUsd === null || microUsd === undefined) return "—";
  return new Intl.NumberFormat(LOCALES[lang], {
    style: "currency",
    currency: "USD",
    minimumFractionDigits: 2,
    maximumFractionDigits: microUsd !== 0 && Math.abs(microUsd) < 10_000 ? 6 : 4,
  }).format(microUsd / 1_000_000);
}

export function formatDuration(lang: Lang, ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${formatNumber(lang, Math.round(ms))} ms`;
  return `${new Intl.NumberFormat(LOCALES[lang], { maximumFractionDigits: 1 }).format(ms / 1000)} s`;
}
