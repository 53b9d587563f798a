import { describe, expect, it } from "vitest";
import { isTrigger, layoutWorkflow, type N8nWorkflow, parseWorkflow, shortType } from "./layout";

function node(name: string, type = "n8n-nodes-base.set", position: [number, number] = [0, 0]) {
  return { name, type, typeVersion: 1, position, parameters: {} };
}

function main(...targets: (string | string[])[]) {
  return { main: targets.map((t) => (Array.isArray(t) ? t : [t]).map((n) => ({ node: n, type: "main", index: 0 }))) };
}

const report: N8nWorkflow = {
  nodes: [
    node("Post to Slack", "n8n-nodes-base.slack", [660, 300]),
    node("Every Day at 08:00", "n8n-nodes-base.scheduleTrigger", [0, 300]),
    node("Get Shopify Orders", "n8n-nodes-base.shopify", [220, 300]),
    node("Sum Order Totals", "n8n-nodes-base.summarize", [440, 300]),
    node("Paid Orders Only", "n8n-nodes-base.filter", [440, 480]),
    node("Create Yalidine Parcel", "n8n-nodes-base.httpRequest", [660, 480]),
  ],
  connections: {
    "Every Day at 08:00": main("Get Shopify Orders"),
    "Get Shopify Orders": main(["Sum Order Totals", "Paid Orders Only"]),
    "Sum Order Totals": main("Post to Slack"),
    "Paid Orders Only": main("Create Yalidine Parcel"),
  },
};

function byName(layout: ReturnType<typeof layoutWorkflow>) {
  return new Map(layout.nodes.map((n) => [n.name, n]));
}

describe("the workflow layout", () => {
  it("puts each node one layer after the node that feeds it, the trigger first", () => {
    const nodes = byName(layoutWorkflow(report));
    expect(nodes.get("Every Day at 08:00")?.layer).toBe(0);
    expect(nodes.get("Get Shopify Orders")?.layer).toBe(1);
    expect(nodes.get("Sum Order Totals")?.layer).toBe(2);
    expect(nodes.get("Paid Orders Only")?.layer).toBe(2);
    expect(nodes.get("Post to Slack")?.layer).toBe(3);
    expect(nodes.get("Every Day at 08:00")?.trigger).toBe(true);
    expect(nodes.get("Post to Slack")?.trigger).toBe(false);
  });

  it("lays layers left to right with no two nodes overlapping, and draws every connection", () => {
    const layout = layoutWorkflow(report);
    const nodes = byName(layout);
    expect((nodes.get("Get Shopify Orders")?.x ?? 0) > (nodes.get("Every Day at 08:00")?.x ?? 0)).toBe(true);
    const boxes = layout.nodes.map((n) => `${n.x},${n.y}`);
    expect(new Set(boxes).size).toBe(boxes.length);
    expect(layout.edges).toHaveLength(5);
    expect(layout.edges.every((e) => e.path.startsWith("M") && !e.back)).toBe(true);
    for (const n of layout.nodes) {
      expect(n.x + 184).toBeLessThanOrEqual(layout.width);
      expect(n.y + 56).toBeLessThanOrEqual(layout.height);
    }
  });

  it("keeps branches in the order that crosses least (a node next to what feeds it)", () => {
    const nodes = byName(layoutWorkflow(report));
    const sum = nodes.get("Sum Order Totals")?.y ?? 0;
    const paid = nodes.get("Paid Orders Only")?.y ?? 0;
    const slack = nodes.get("Post to Slack")?.y ?? 0;
    const parcel = nodes.get("Create Yalidine Parcel")?.y ?? 0;
    expect(Math.sign(sum - paid)).toBe(Math.sign(slack - parcel));
  });

  it("gives the same picture for the same JSON, whatever the order of its nodes", () => {
    const shuffled = { ...report, nodes: [...report.nodes].reverse() };
    const a = layoutWorkflow(report);
    const b = layoutWorkflow(shuffled);
    expect(byName(a)).toEqual(byName(b));
    expect(JSON.stringify(layoutWorkflow(report))).toBe(JSON.stringify(a));
  });

  it("survives a loop: the edge that closes it is drawn back underneath, not laid out", () => {
    const loop: N8nWorkflow = {
      nodes: [node("Webhook", "n8n-nodes-base.webhook"), node("Fetch page"), node("More pages?", "n8n-nodes-base.if")],
      connections: {
        Webhook: main("Fetch page"),
        "Fetch page": main("More pages?"),
        "More pages?": main("Fetch page", []),
      },
    };
    const layout = layoutWorkflow(loop);
    const back = layout.edges.filter((e) => e.back);
    expect(back.map((e) => `${e.from}->${e.to}`)).toEqual(["More pages?->Fetch page"]);
    expect(byName(layout).get("More pages?")?.layer).toBe(2);
    expect(layout.height).toBeGreaterThan(56 + 32);
  });

  it("keeps connections to a node that does not exist apart, for the validation to name", () => {
    const layout = layoutWorkflow({ nodes: [node("A", "n8n-nodes-base.manualTrigger")], connections: { A: main("Ghost") } });
    expect(layout.edges).toEqual([]);
    expect(layout.dangling).toEqual([{ from: "A", to: "Ghost", kind: "main" }]);
  });

  it("places an AI model next to the agent it serves, and draws its connection apart", () => {
    const ai: N8nWorkflow = {
      nodes: [
        node("Chat", "@n8n/n8n-nodes-langchain.chatTrigger"),
        node("Agent", "@n8n/n8n-nodes-langchain.agent"),
        node("Model", "@n8n/n8n-nodes-langchain.lmChatAnthropic"),
        node("Reply"),
      ],
      connections: {
        Chat: main("Agent"),
        Model: { ai_languageModel: [[{ node: "Agent", type: "ai_languageModel", index: 0 }]] },
        Agent: main("Reply"),
      },
    };
    const layout = layoutWorkflow(ai);
    const nodes = byName(layout);
    expect(nodes.get("Model")?.layer).toBe((nodes.get("Agent")?.layer ?? 0) - 1);
    expect(layout.edges.find((e) => e.from === "Model")?.kind).toBe("ai_languageModel");
  });

  it("lays layers top to bottom on a narrow screen", () => {
    const layout = layoutWorkflow(report, "down");
    const nodes = byName(layout);
    expect((nodes.get("Get Shopify Orders")?.y ?? 0) > (nodes.get("Every Day at 08:00")?.y ?? 0)).toBe(true);
    expect(layout.width).toBeLessThan(layoutWorkflow(report, "right").width / 2);
    expect(layout.width).toBe(2 * 184 + 20 + 32);
  });

  it("draws nothing for an empty workflow", () => {
    expect(layoutWorkflow({ nodes: [], connections: {} })).toMatchObject({ nodes: [], edges: [], width: 0, height: 0 });
  });
});

describe("triggers and types", () => {
  it("recognises n8n's trigger nodes", () => {
    expect(isTrigger("n8n-nodes-base.scheduleTrigger")).toBe(true);
    expect(isTrigger("n8n-nodes-base.webhook")).toBe(true);
    expect(isTrigger("@n8n/n8n-nodes-langchain.chatTrigger")).toBe(true);
    expect(isTrigger("n8n-nodes-base.slack")).toBe(false);
    expect(shortType("n8n-nodes-base.httpRequest")).toBe("httpRequest");
  });

  it("reads a revision's JSON, and nothing from a sealed or shredded one", () => {
    expect(parseWorkflow(JSON.stringify(report))?.nodes).toHaveLength(6);
    expect(parseWorkflow("[shredded]")).toBeNull();
    expect(parseWorkflow("aiwf:enc:1:abc")).toBeNull();
    expect(parseWorkflow('{"nodes": "no"}')).toBeNull();
    expect(parseWorkflow('{"nodes": [{"name": "A", "type": "x"}, 3]}')?.nodes).toHaveLength(1);
  });
});
