import { describe, expect, it } from "vitest";
import { en } from "./en";
import { fr } from "./fr";
import { defaultLang, DICTIONARIES, formatCost, isMessageKey, placeholders, translate } from "./i18n";

describe("the interface labels", () => {
  it("exist in French for every English key, and no more", () => {
    expect(Object.keys(fr).sort()).toEqual(Object.keys(en).sort());
  });

  it("are never empty, and are not left in English in French (but for names and acronyms)", () => {
    // words French and English share (and product names): the only labels allowed to be the same
    const same = new Set([
      "AgentState", "SBOM", "Workflow", "Workflows", "Conversation", "Conversations", "Messages", "{count} messages",
      "Assistant", "Agents", "Version", "Type", "Format", "Signature", "Partition", "Code", "Architecture", "Service",
      "Actions", "Circuit", "Validation", "Document", "ok", "public", "local", "cloud",
    ]);
    for (const [key, text] of Object.entries(en)) {
      const french = fr[key as keyof typeof en];
      expect(text.trim(), key).not.toBe("");
      expect(french.trim(), key).not.toBe("");
      if (text === french && !same.has(text)) {
        throw new Error(`${key} is not translated: ${text}`);
      }
    }
  });

  it("use the same placeholders in both languages", () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(placeholders(fr[key]), key).toEqual(placeholders(en[key]));
    }
  });

  it("fill their placeholders and leave unknown ones visible", () => {
    expect(translate("fr", "workflow.approve", { revision: 2 })).toBe("Approuver la révision 2");
    expect(translate("en", "workflow.approve")).toBe("Approve revision {revision}");
  });

  it("cover every status, agent and event type the API names", () => {
    const statuses = ["drafted", "validated", "invalid", "approved", "rejected", "deploying", "deployed", "needs_credentials", "deployment_failed", "retired", "open", "closed"];
    for (const s of statuses) expect(isMessageKey(`status.${s}`), s).toBe(true);
    for (const a of ["orchestrator", "sales", "logistics", "finance", "designer"]) expect(isMessageKey(`agent.${a}`), a).toBe(true);
    const types = [
      "conversation.started", "conversation.user_message_received", "conversation.intent_classified", "conversation.agent_delegated",
      "conversation.agent_finding_recorded", "conversation.inference_decided", "conversation.inference_refused",
      "conversation.assistant_replied", "conversation.closed", "workflow.drafted", "workflow.validated", "workflow.validation_failed",
      "workflow.approved", "workflow.rejected", "workflow.deployment_requested", "workflow.deployed", "workflow.needs_credentials",
      "workflow.deployment_failed", "workflow.retired", "workflow.deactivated", "credential.connected", "credential.removed",
      "credential.requested", "subject.shredded",
    ];
    for (const t of types) expect(isMessageKey(`ev.${t}`), t).toBe(true);
  });
});

describe("the language", () => {
  it("is the browser's first one we have, else English", () => {
    expect(defaultLang(["fr-DZ", "ar"])).toBe("fr");
    expect(defaultLang(["ar-DZ", "fr"])).toBe("fr");
    expect(defaultLang(["en-US"])).toBe("en");
    expect(defaultLang(["ar", "de"])).toBe("en");
    expect(defaultLang([])).toBe("en");
    expect(Object.keys(DICTIONARIES)).toEqual(["en", "fr"]);
  });

  it("formats small costs with their digits", () => {
    expect(formatCost("en", 1234)).toContain("0.001234");
    expect(formatCost("en", 0)).toContain("0.00");
  });
});
