/** The chat's pure parts: merging what was read with what the stream delivers, and what to show. */

import type { Schemas } from "./api/client";

type AgentState = Schemas["AgentStateDoc"];

export interface ChatMessage {
  message_id: string;
  role: string;
  text: string;
  sensitivity: string;
  created_at: string;
  version: number;
  kind?: string;
  workflow_id?: string;
  workflow_revision?: number;
}

export interface Pending {
  text: string;
  version: number;
}

/** Messages by id, in log order: what was read, then what the stream delivered (each once). */
export function mergeMessages(known: ChatMessage[], more: ChatMessage[]): ChatMessage[] {
  const byId = new Map(known.map((m) => [m.message_id, m]));
  for (const m of more) byId.set(m.message_id, { ...byId.get(m.message_id), ...m });
  return [...byId.values()].sort((a, b) => a.version - b.version);
}

/** The workflow each assistant reply brought, from the stream (live) or the AgentState (history). */
export function workflowsByReply(messages: ChatMessage[], state: AgentState | null): Map<string, { id: string; revision: number | null }> {
  const out = new Map<string, { id: string; revision: number | null }>();
  const attached = new Set<string>();
  for (const m of messages) {
    if (!m.workflow_id) continue;
    out.set(m.message_id, { id: m.workflow_id, revision: m.workflow_revision ?? null });
    attached.add(`${m.workflow_id}@${m.workflow_revision ?? ""}`);
  }
  for (const ref of state?.workflows ?? []) {
    if (attached.has(`${ref.workflow_id}@${ref.revision ?? ""}`)) continue;
    const asked = messages.findIndex((m) => m.message_id === ref.message_id);
    if (asked === -1) continue;
    const reply = messages.slice(asked + 1).find((m) => m.role === "assistant" && !out.has(m.message_id));
    if (reply) out.set(reply.message_id, { id: ref.workflow_id, revision: ref.revision });
  }
  return out;
}

/** The agents are at work while the last user message (sent or still sending) has no reply after it. */
export function awaitingReply(messages: ChatMessage[], pending: Pending[]): boolean {
  if (pending.length > 0) return true;
  const last = messages[messages.length - 1];
  return last !== undefined && last.role === "user";
}

