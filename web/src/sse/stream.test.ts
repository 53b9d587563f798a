import { describe, expect, it } from "vitest";
import type { SseMessage } from "./parser";
import { backoffDelay, openStream, type StreamStatus } from "./stream";

function body(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes.slice(0, 10));
      controller.enqueue(bytes.slice(10));
      controller.close();
    },
  });
}

function sse(text: string): Response {
  return new Response(body(text), { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

function problem(status: number, slug: string): Response {
  return new Response(JSON.stringify({ type: `https://aiwf.dev/problems/${slug}`, title: slug, status }), {
    status,
    headers: { "Content-Type": "application/problem+json" },
  });
}

interface Run {
  requests: Headers[];
  events: SseMessage[];
  statuses: StreamStatus[];
  gaps: number;
  waits: number[];
}

/** Runs a stream against answers given in order; resolves once they are used up (or it stopped). */
function run(answers: (Response | Error)[], lastEventId?: string): Promise<Run> {
  const result: Run = { requests: [], events: [], statuses: [], gaps: 0, waits: [] };
  return new Promise((resolve) => {
    let close = (): void => undefined;
    const finish = (): void => {
      close();
      resolve(result);
    };
    close = openStream({
      url: "/v1/conversations/c/stream",
      apiKey: () => "aiwf_key",
      ...(lastEventId ? { lastEventId } : {}),
      onEvent: (m) => result.events.push(m),
      onStatus: (s) => {
        result.statuses.push(s);
        if (s.state === "stopped") finish();
      },
      onGap: () => {
        result.gaps += 1;
      },
      random: () => 0.5,
      sleep: async (ms) => {
        result.waits.push(ms);
      },
      fetchImpl: async (_url, init) => {
        result.requests.push(new Headers(init?.headers));
        const answer = answers.shift();
        if (answer === undefined) {
          setTimeout(finish, 0);
          return new Promise<Response>(() => undefined); // hangs until closed
        }
        if (answer instanceof Error) throw answer;
        return answer;
      },
    });
  });
}

describe("the backoff", () => {
  it("doubles from one second up to thirty, with jitter between half and all of it", () => {
    expect(backoffDelay(0, () => 0)).toBe(500);
    expect(backoffDelay(0, () => 1)).toBe(1000);
    expect(backoffDelay(3, () => 1)).toBe(8000);
    expect(backoffDelay(10, () => 1)).toBe(30_000);
    expect(backoffDelay(10, () => 0)).toBe(15_000);
  });
});

describe("a live stream read with fetch", () => {
  it("sends the API key and Last-Event-ID, and resumes after the last event it got when the connection ends", async () => {
    const r = await run([sse("id: 4\ndata: a\n\nid: 5\ndata: b\n\n"), sse("id: 6\ndata: c\n\n")], "3");
    expect(r.requests[0]?.get("authorization")).toBe("Bearer aiwf_key");
    expect(r.requests[0]?.get("last-event-id")).toBe("3");
    expect(r.requests[1]?.get("last-event-id")).toBe("5");
    expect(r.requests[2]?.get("last-event-id")).toBe("6");
    expect(r.events.map((e) => e.data)).toEqual(["a", "b", "c"]);
  });

  it("backs off longer after each failure in a row, and starts over once events flow again", async () => {
    const r = await run([new TypeError("network down"), problem(503, "unavailable"), sse("id: 1\ndata: x\n\n")]);
    expect(r.waits).toEqual([backoffDelay(0, () => 0.5), backoffDelay(1, () => 0.5), backoffDelay(0, () => 0.5)]);
    expect(r.statuses.some((s) => s.state === "reconnecting" && s.problem?.status === 0)).toBe(true);
  });

  it("waits at least what Retry-After asks", async () => {
    const limited = new Response("{}", { status: 429, headers: { "Retry-After": "7" } });
    const r = await run([limited]);
    expect(r.waits[0]).toBe(7000);
  });

  it("stops on 401, 403 and 404: waiting would not change them", async () => {
    for (const status of [401, 403, 404]) {
      const r = await run([problem(status, "no")]);
      const last = r.statuses[r.statuses.length - 1];
      expect(last?.state).toBe("stopped");
      expect(last?.problem?.status).toBe(status);
      expect(r.requests).toHaveLength(1);
    }
  });

  it("drops an id the server refuses to resume from, says there may be a gap, and starts again", async () => {
    const r = await run([problem(400, "last-event-id-too-old"), sse("id: 1:2-0\ndata: x\n\n")], "0:1-0");
    expect(r.gaps).toBe(1);
    expect(r.requests[1]?.has("last-event-id")).toBe(false);
    expect(r.events).toHaveLength(1);
  });
});
