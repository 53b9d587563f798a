import { describe, expect, it } from "vitest";
import { href, parseRoute, type Route, routeNeeds } from "../router";
import { can, isRole, mayOpen, sectionsFor } from "./roles";

describe("what each role may do (as the API's routes allow it)", () => {
  it("lets members and admins chat and decide, never auditors", () => {
    expect(can("member", "chat")).toBe(true);
    expect(can("admin", "chat")).toBe(true);
    expect(can("auditor", "chat")).toBe(false);
    expect(can("auditor", "decide")).toBe(false);
    expect(can("member", "decide")).toBe(true);
  });

  it("lets auditors and admins audit, never members", () => {
    expect(can("auditor", "audit")).toBe(true);
    expect(can("admin", "audit")).toBe(true);
    expect(can("member", "audit")).toBe(false);
  });

  it("keeps operations to admins", () => {
    expect(can("admin", "operate")).toBe(true);
    expect(can("auditor", "operate")).toBe(false);
    expect(can("member", "operate")).toBe(false);
  });

  it("lets nobody without a role do anything", () => {
    expect(can(null, "read")).toBe(false);
    expect(can(undefined, "read")).toBe(false);
    expect(isRole("owner")).toBe(false);
    expect(isRole("auditor")).toBe(true);
  });

  it("shows each role only the sections it may open", () => {
    expect(sectionsFor("member")).toEqual(["conversations", "workflows", "credentials"]);
    expect(sectionsFor("auditor")).toEqual(["conversations", "workflows", "credentials", "events"]);
    expect(sectionsFor("admin")).toEqual(["conversations", "workflows", "credentials", "events", "operations"]);
    expect(mayOpen("member", "events")).toBe(false);
  });

  it("guards the pages of a link as well as the navigation", () => {
    expect(can("member", routeNeeds(parseRoute("#/events?type=x")))).toBe(false);
    expect(can("auditor", routeNeeds(parseRoute("#/operations")))).toBe(false);
    expect(can("member", routeNeeds(parseRoute("#/workflows/w1/sbom")))).toBe(true);
  });
});

describe("routes in the URL's fragment", () => {
  const routes: Route[] = [
    { page: "conversations" },
    { page: "conversation", id: "01a2-x" },
    { page: "agent-state", id: "c1" },
    { page: "agent-state", id: "c1", version: 7 },
    { page: "workflows" },
    { page: "workflow", id: "w/1" },
    { page: "workflow", id: "w1", revision: 2 },
    { page: "sbom", id: "w1", revision: 3 },
    { page: "credentials", type: "slackApi" },
    { page: "events", type: "aiwf.workflow.drafted.v1", stream: "workflow-w1" },
    { page: "events", since: "2026-12-06T18:00:00.000Z" },
    { page: "operations", days: 30 },
  ];

  it("read back what they write", () => {
    for (const route of routes) expect(parseRoute(href(route))).toEqual(route);
  });

  it("open the conversations by default, and name what they do not know", () => {
    expect(parseRoute("")).toEqual({ page: "conversations" });
    expect(parseRoute("#/")).toEqual({ page: "conversations" });
    expect(parseRoute("#/nowhere").page).toBe("not-found");
    expect(parseRoute("#/conversations/a/b/c").page).toBe("not-found");
    expect(parseRoute("#/conversations/%E0%A4%A")).toEqual({ page: "not-found", path: "/conversations/%E0%A4%A" });
  });

  it("ignore a version or revision that is not a positive number", () => {
    expect(parseRoute("#/conversations/c1/state?version=0")).toEqual({ page: "agent-state", id: "c1" });
    expect(parseRoute("#/workflows/w1?revision=x")).toEqual({ page: "workflow", id: "w1" });
  });
});
