/**
 * The typed API client: `openapi-fetch` over the paths generated from web/openapi.json (schema.ts), with
 * the API key from the session, problem details turned into `ProblemError`, and the helpers the pages
 * share (an Idempotency-Key per command, a consistency token for the read that follows a command).
 */

import createClient, { type Middleware } from "openapi-fetch";
import { networkProblem, ProblemError, toProblem } from "./problem";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

/** The 202 answer of every command: its events are in the log; reads with its token will see them. */
export type Accepted = Schemas["Accepted"];

let apiKey: string | null = null;
const listeners = new Set<() => void>();

export function setApiKey(key: string | null): void {
  apiKey = key;
}

export function currentApiKey(): string | null {
  return apiKey;
}

/** Called when the API answers 401 to a signed-in session (the key was revoked or expired). */
export function onUnauthorized(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const auth: Middleware = {
  onRequest({ request }) {
    if (apiKey) request.headers.set("Authorization", `Bearer ${apiKey}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401 && apiKey) for (const listener of listeners) listener();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "" });
api.use(auth);

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's data, or a `ProblemError` with the API's problem (or the network's). */
export async function call<T>(request: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await request;
  } catch (error) {
    throw new ProblemError(networkProblem(error));
  }
  if (!result.response.ok) {
    throw new ProblemError(toProblem(result.response.status, result.error, result.response.statusText));
  }
  return result.data as T;
}

/** A command's 202 answer. */
export async function command(request: Promise<FetchResult<Accepted>>): Promise<Accepted> {
  return call(request);
}

/** A random UUID (v4) for Idempotency-Key: crypto.randomUUID exists only in secure contexts. */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Consistency tokens of recent commands, by the id of what they changed: the next read of it sends the
 * token (`X-Consistency-Token`) and sees the command's effect instead of the read model as it was.
 */
const tokens = new Map<string, string>();

export function rememberToken(id: string, token: string): void {
  tokens.set(id, token);
}

export function takeToken(id: string): Record<string, string> {
  const token = tokens.get(id);
  tokens.delete(id);
  return token ? { "X-Consistency-Token": token } : {};
}
