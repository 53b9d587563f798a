/**
 * A live SSE stream read with fetch, so that it carries `Authorization: Bearer` (EventSource cannot), and
 * resumed after a dropped connection with `Last-Event-ID` and an exponential backoff with jitter.
 *
 * - 401, 403, 404 and 410 stop the stream: waiting will not change them; the caller shows the problem.
 * - 400 to a resumption (an id too old, or no longer the server's) drops the id: the caller is told there
 *   may be a gap (`onGap`) and the stream starts again without one.
 * - 429, 5xx, a network error or the server ending the stream: reconnect after `backoffDelay` (at least
 *   what `Retry-After` or the stream's `retry:` asked for).
 */

import { type ApiProblem, problemFromResponse, networkProblem } from "../api/problem";
import { type SseMessage, SseParser } from "./parser";

export type StreamState = "connecting" | "open" | "reconnecting" | "stopped";

export interface StreamStatus {
  state: StreamState;
  /** Failed attempts in a row (0 while the stream is open). */
  attempt: number;
  /** When reconnecting: how long until the next attempt, in milliseconds. */
  retryInMs?: number;
  /** Why it is reconnecting or stopped. */
  problem?: ApiProblem;
}

export interface StreamOptions {
  url: string;
  /** The API key, read at every (re)connection. */
  apiKey: () => string | null;
  lastEventId?: string;
  onEvent: (message: SseMessage) => void;
  onStatus?: (status: StreamStatus) => void;
  /** The server refused to resume from the id: events may have been missed; reload what was shown. */
  onGap?: (problem: ApiProblem) => void;
  fetchImpl?: typeof fetch;
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const FATAL = new Set([401, 403, 404, 410]);
const BASE_MS = 1000;
const MAX_MS = 30_000;

/** "Equal jitter": between half and all of min(max, base·2^attempt). */
export function backoffDelay(attempt: number, random: () => number = Math.random, base = BASE_MS, max = MAX_MS): number {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function retryAfterMs(response: Response): number {
  const value = response.headers.get("retry-after");
  return value && /^\d+$/.test(value) ? Number(value) * 1000 : 0;
}

/** Opens the stream; returns a function that closes it for good. */
export function openStream(options: StreamOptions): () => void {
  const controller = new AbortController();
  void run(options, controller.signal);
  return () => controller.abort();
}

async function run(options: StreamOptions, signal: AbortSignal): Promise<void> {
  const doFetch = options.fetchImpl ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const status = (s: StreamStatus): void => {
    if (!signal.aborted) options.onStatus?.(s);
  };
  let lastEventId = options.lastEventId ?? "";
  let attempt = 0;
  let serverRetry = 0;

  while (!signal.aborted) {
    status({ state: attempt === 0 ? "connecting" : "reconnecting", attempt });
    let wait = 0;
    let problem: ApiProblem | undefined;
    let parser: SseParser | undefined;
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      const key = options.apiKey();
      if (key) headers.Authorization = `Bearer ${key}`;
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      const response = await doFetch(options.url, { headers, signal, cache: "no-store" });
      if (!response.ok || response.body === null) {
        problem = await problemFromResponse(response);
        if (FATAL.has(response.status)) {
          status({ state: "stopped", attempt, problem });
          return;
        }
        if (response.status === 400 && lastEventId) {
          lastEventId = "";
          options.onGap?.(problem);
          continue;
        }
        wait = retryAfterMs(response);
      } else {
        parser = new SseParser(lastEventId);
        status({ state: "open", attempt: 0 });
        // A connection that delivered something starts the backoff over.
        await read(response.body, parser, (message) => {
          attempt = 0;
          options.onEvent(message);
        }, signal);
        serverRetry = parser.retry ?? serverRetry;
        const closing = parser.comments.find((c) => c.startsWith("closed:"));
        if (closing) problem = { status: 0, title: closing, detail: "", errors: [] };
      }
    } catch (error) {
      if (signal.aborted) return;
      problem = networkProblem(error);
    }
    // What was delivered before a connection broke counts: resume after it.
    if (parser) lastEventId = parser.lastEventId;
    if (signal.aborted) return;
    const delay = Math.max(backoffDelay(attempt, random), wait, serverRetry);
    attempt += 1;
    status({ state: "reconnecting", attempt, retryInMs: delay, ...(problem ? { problem } : {}) });
    await sleep(delay, signal);
  }
}

/** Reads one connection to its end (or until the stream is closed by its owner). */
async function read(
  body: ReadableStream<Uint8Array>,
  parser: SseParser,
  onEvent: (message: SseMessage) => void,
  signal: AbortSignal,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const message of parser.push(decoder.decode(value, { stream: true }))) {
        if (signal.aborted) return;
        onEvent(message);
      }
    }
    parser.push(decoder.decode());
    parser.end();
  } finally {
    reader.releaseLock();
  }
}
