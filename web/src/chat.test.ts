import { describe, expect, it } from "vitest";
import { awaitingReply, type ChatMessage, mergeMessages, workflowsByReply } from "./chat";

function message(id: string, role: "user" | "assistant", version: number, extra: Partial<ChatMessage> = {}): ChatMessage {
  return { message_id: id, role, text: id, sensitivity: "public", created_at: "2026-12-06T10:00:00Z", version, ...extra };
}

describe("the chat", () => {
  it("shows each message once, in the log's order, whether it was read or streamed", () => {
    const read = [message("a", "user", 2), message("b", "assistant", 12)];
    const streamed = [message("b", "assistant", 12, { workflow_id: "w" }), message("c", "user", 13)];
    const merged = mergeMessages(read, streamed);
    expect(merged.map((m) => m.message_id)).toEqual(["a", "b", "c"]);
    expect(merged[1]?.workflow_id).toBe("w");
    expect(mergeMessages(streamed, read).map((m) => m.message_id)).toEqual(["a", "b", "c"]);
  });

  it("says the agents are at work until the last user message has a reply", () => {
    expect(awaitingReply([message("a", "user", 2)], [])).toBe(true);
    expect(awaitingReply([message("a", "user", 2), message("b", "assistant", 5)], [])).toBe(false);
    expect(awaitingReply([message("b", "assistant", 5)], [{ text: "x", version: 6 }])).toBe(true);
    expect(awaitingReply([], [])).toBe(false);
  });

  it("attaches each workflow to the reply that announced it", () => {
    const messages = [message("q1", "user", 2), message("r1", "assistant", 12), message("q2", "user", 13), message("r2", "assistant", 23, { workflow_id: "w", workflow_revision: 2 })];
    const state = {
      workflows: [
        { workflow_id: "w", revision: 1, message_id: "q1", at: "" },
        { workflow_id: "w", revision: 2, message_id: "q2", at: "" },
      ],
    } as unknown as Parameters<typeof workflowsByReply>[1];
    const refs = workflowsByReply(messages, state);
    expect(refs.get("r1")).toEqual({ id: "w", revision: 1 });
    expect(refs.get("r2")).toEqual({ id: "w", revision: 2 });
    expect(refs.size).toBe(2);
  });
});
