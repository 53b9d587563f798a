/** Events as the streams deliver them: CloudEvents whose `data` is the domain event (sealed fields opened). */

import type { MessageKey, Translate } from "./i18n/i18n";
import { isMessageKey } from "./i18n/i18n";

export interface CloudEvent {
  id: string;
  type: string;
  stream: string;
  version: number;
  time: string;
  tenant?: string;
  subject?: string;
  data: Record<string, unknown>;
}

export function parseEvent(text: string): CloudEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object") return null;
  const e = value as Record<string, unknown>;
  if (typeof e.type !== "string") return null;
  return {
    id: typeof e.id === "string" ? e.id : "",
    type: e.type,
    stream: typeof e.stream === "string" ? e.stream : "",
    version: typeof e.version === "number" ? e.version : 0,
    time: typeof e.time === "string" ? e.time : "",
    ...(typeof e.tenant === "string" ? { tenant: e.tenant } : {}),
    ...(typeof e.subject === "string" ? { subject: e.subject } : {}),
    data: e.data !== null && typeof e.data === "object" ? (e.data as Record<string, unknown>) : {},
  };
}

/** `aiwf.conversation.agent_delegated.v1` → `conversation.agent_delegated`. */
export function eventName(type: string): string {
  return type.replace(/^aiwf\./, "").replace(/\.v\d+$/, "");
}

/** A short, translated name of an event type (the type itself when we do not know it). */
export function eventLabel(t: Translate, type: string): string {
  const key = `ev.${eventName(type)}`;
  return isMessageKey(key) ? t(key as MessageKey) : type;
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function num(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}
