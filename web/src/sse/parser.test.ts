import { describe, expect, it } from "vitest";
import { SseParser } from "./parser";

function all(chunks: string[]): { id: string; event: string; data: string }[] {
  const parser = new SseParser();
  return chunks.flatMap((c) => parser.push(c));
}

describe("the SSE parser", () => {
  it("dispatches an event at a blank line, with its id and type", () => {
    expect(all(["id: 3\nevent: aiwf.x.v1\ndata: {\"a\":1}\n\n"])).toEqual([{ id: "3", event: "aiwf.x.v1", data: '{"a":1}' }]);
  });

  it("reads the line endings the server writes (CRLF), and LF and CR", () => {
    expect(all(["data: a\r\n\r\ndata: b\n\ndata: c\r\r"]).map((m) => m.data)).toEqual(["a", "b", "c"]);
  });

  it("joins events split anywhere across chunks, a CRLF cut between its CR and its LF included", () => {
    const text = "id: 7\r\nevent: t\r\ndata: hello\r\n\r\nid: 8\r\ndata: world\r\n\r\n";
    for (let cut = 1; cut < text.length; cut++) {
      const messages = all([text.slice(0, cut), text.slice(cut)]);
      expect(messages.map((m) => [m.id, m.data])).toEqual([
        ["7", "hello"],
        ["8", "world"],
      ]);
    }
  });

  it("joins several data lines with a line feed", () => {
    expect(all(["data: one\ndata: two\ndata\n\n"])[0]?.data).toBe("one\ntwo\n");
  });

  it("names an event without a type `message`", () => {
    expect(all(["data: x\n\n"])[0]?.event).toBe("message");
  });

  it("keeps comments (keep-alives, the reason a stream is closed) out of the events", () => {
    const parser = new SseParser();
    expect(parser.push(": keep-alive\n\n: closed: the API key was revoked\n\n")).toEqual([]);
    expect(parser.comments).toContain("closed: the API key was revoked");
  });

  it("remembers the last id across events and starts from the one it resumes after", () => {
    const parser = new SseParser("41");
    const [first, second] = parser.push("data: a\n\nid: 42\ndata: b\n\n");
    expect(first?.id).toBe("41");
    expect(second?.id).toBe("42");
    expect(parser.lastEventId).toBe("42");
  });

  it("updates the id even from a block without data, and dispatches nothing for it", () => {
    const parser = new SseParser();
    expect(parser.push("id: 9\n\n")).toEqual([]);
    expect(parser.lastEventId).toBe("9");
  });

  it("ignores an id holding a NUL character", () => {
    const parser = new SseParser("5");
    parser.push("id: 6\u00007\ndata: x\n\n");
    expect(parser.lastEventId).toBe("5");
  });

  it("takes `retry` when it is a number only", () => {
    const parser = new SseParser();
    parser.push("retry: 2500\n\nretry: soon\n\n");
    expect(parser.retry).toBe(2500);
  });

  it("strips one leading space of a value, not more", () => {
    expect(all(["data:  two spaces\n\n"])[0]?.data).toBe(" two spaces");
    expect(all(["data:none\n\n"])[0]?.data).toBe("none");
  });

  it("skips a byte order mark at the start of the stream", () => {
    expect(all(["\ufeffdata: x\n\n"])[0]?.data).toBe("x");
  });

  it("drops an event the stream ended in the middle of", () => {
    const parser = new SseParser();
    expect(parser.push("data: complete\n\ndata: cut")).toHaveLength(1);
    expect(parser.end()).toEqual([]);
    expect(parser.push("\n\n")).toEqual([]);
  });

  it("keeps right-to-left and non-Latin text intact", () => {
    expect(all(["data: {\"text\":\"كل صباح\"}\n\n"])[0]?.data).toBe('{"text":"كل صباح"}');
  });
});
