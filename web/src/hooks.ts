/** Small hooks the pages share: a read that can be reloaded, and a live stream's lifecycle. */

import { useCallback, useEffect, useRef, useState } from "react";
import { currentApiKey } from "./api/client";
import { type ApiProblem, problemOf } from "./api/problem";
import type { SseMessage } from "./sse/parser";
import { openStream, type StreamStatus } from "./sse/stream";

export interface Loaded<T> {
  data: T | undefined;
  problem: ApiProblem | null;
  loading: boolean;
  /** Read again; the data shown stays until the new answer arrives. */
  reload: () => void;
  setData: (update: (previous: T | undefined) => T | undefined) => void;
}

/** Runs `load` when `deps` change (and on `reload`); a late answer of a superseded run is dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const run = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const mine = ++run.current;
    setLoading(true);
    loadRef.current().then(
      (value) => {
        if (run.current !== mine) return;
        setDataState(value);
        setProblem(null);
        setLoading(false);
      },
      (error: unknown) => {
        if (run.current !== mine) return;
        setProblem(problemOf(error));
        setLoading(false);
      },
    );
  }, [...deps, tick]);

  // A new subject (another id): what was shown belongs to the previous one.
  useEffect(() => {
    setDataState(undefined);
    setProblem(null);
  }, deps);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  const setData = useCallback((update: (previous: T | undefined) => T | undefined) => setDataState(update), []);
  return { data, problem, loading, reload, setData };
}

export interface LiveOptions {
  /** Where to resume from; read once when the stream opens. */
  lastEventId?: string;
  onGap?: (problem: ApiProblem) => void;
}

/**
 * Keeps a live SSE stream open while the component shows `url` (null: none). `onEvent` may change
 * between renders without reopening the stream.
 */
export function useLiveStream(
  url: string | null,
  onEvent: (message: SseMessage) => void,
  options: LiveOptions = {},
): StreamStatus {
  const [status, setStatus] = useState<StreamStatus>({ state: "connecting", attempt: 0 });
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const opts = useRef(options);
  opts.current = options;

  useEffect(() => {
    if (url === null) {
      setStatus({ state: "stopped", attempt: 0 });
      return undefined;
    }
    const close = openStream({
      url,
      apiKey: currentApiKey,
      ...(opts.current.lastEventId !== undefined ? { lastEventId: opts.current.lastEventId } : {}),
      onEvent: (message) => handler.current(message),
      onStatus: setStatus,
      onGap: (problem) => opts.current.onGap?.(problem),
    });
    return close;
  }, [url]);
  return status;
}

/** Calls `fn` at most once per `ms`, after the last call (trailing), with the last arguments. */
export function useDebounced<A extends unknown[]>(fn: (...args: A) => void, ms: number): (...args: A) => void {
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const latest = useRef(fn);
  latest.current = fn;
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  return useCallback(
    (...args: A) => {
      if (timer.current) clearTimeout(timer.current);
      timer.current = setTimeout(() => latest.current(...args), ms);
    },
    [ms],
  );
}
