/**
 * What each role may do, as the API's routes allow it (api/auth.py: CHAT, READ, AUDIT, ADMIN). The app
 * hides what a role cannot do; the API still decides, and its 403 is shown when it answers one.
 */

export type Role = "member" | "auditor" | "admin";

export type Capability =
  | "read" // conversations, AgentState, workflows, SBOMs, credentials, live streams
  | "chat" // start conversations, send messages, close
  | "decide" // approve, reject, deploy, retire a workflow; connect credentials
  | "audit" // the event feed, checkpoints, verification
  | "operate"; // operations: lag, dead letters, providers, costs

const ALLOWED: Record<Capability, readonly Role[]> = {
  read: ["member", "auditor", "admin"],
  chat: ["member", "admin"],
  decide: ["member", "admin"],
  audit: ["auditor", "admin"],
  operate: ["admin"],
};

export const ROLES: readonly Role[] = ["member", "auditor", "admin"];

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

export function can(role: Role | null | undefined, capability: Capability): boolean {
  return role != null && ALLOWED[capability].includes(role);
}

export type Section = "conversations" | "workflows" | "credentials" | "events" | "operations";

const SECTION_NEEDS: Record<Section, Capability> = {
  conversations: "read",
  workflows: "read",
  credentials: "read",
  events: "audit",
  operations: "operate",
};

/** The navigation a role sees, in order. */
export function sectionsFor(role: Role | null | undefined): Section[] {
  return (Object.keys(SECTION_NEEDS) as Section[]).filter((s) => can(role, SECTION_NEEDS[s]));
}

export function mayOpen(role: Role | null | undefined, section: Section): boolean {
  return can(role, SECTION_NEEDS[section]);
}
