/**
 * Routing by the URL's fragment (`/#/conversations/…`): the server serves the page at `/` only
 * (api/webapp.py), and a fragment never reaches it, so a reload or a shared link opens the same view.
 */

import { useEffect, useState } from "react";
import type { Capability } from "./auth/roles";

export type Route =
  | { page: "conversations" }
  | { page: "conversation"; id: string }
  | { page: "agent-state"; id: string; version?: number }
  | { page: "workflows" }
  | { page: "workflow"; id: string; revision?: number }
  | { page: "sbom"; id: string; revision?: number }
  | { page: "credentials"; type?: string }
  | { page: "events"; type?: string; stream?: string; since?: string }
  | { page: "operations"; days?: number }
  | { page: "not-found"; path: string };

function positive(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 ? n : undefined;
}

function text(value: string | null): string | undefined {
  return value === null || value === "" ? undefined : value;
}

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, "");
  const [pathPart = "", queryPart = ""] = raw.split("?", 2);
  const query = new URLSearchParams(queryPart);
  let segments: string[];
  try {
    segments = pathPart.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    return { page: "not-found", path: pathPart };
  }
  const [first, id, sub, ...rest] = segments;
  if (rest.length > 0) return { page: "not-found", path: pathPart };
  switch (first) {
    case undefined:
      return { page: "conversations" };
    case "conversations":
      if (id === undefined) return { page: "conversations" };
      if (sub === undefined) return { page: "conversation", id };
      if (sub === "state") {
        const version = positive(query.get("version"));
        return version === undefined ? { page: "agent-state", id } : { page: "agent-state", id, version };
      }
      break;
    case "workflows": {
      if (id === undefined) return { page: "workflows" };
      const revision = positive(query.get("revision"));
      const withRevision = revision === undefined ? {} : { revision };
      if (sub === undefined) return { page: "workflow", id, ...withRevision };
      if (sub === "sbom") return { page: "sbom", id, ...withRevision };
      break;
    }
    case "credentials":
      if (id === undefined) {
        const type = text(query.get("type"));
        return type === undefined ? { page: "credentials" } : { page: "credentials", type };
      }
      break;
    case "events":
      if (id === undefined) {
        const type = text(query.get("type"));
        const stream = text(query.get("stream"));
        const since = text(query.get("since"));
        return { page: "events", ...(type ? { type } : {}), ...(stream ? { stream } : {}), ...(since ? { since } : {}) };
      }
      break;
    case "operations":
      if (id === undefined) {
        const days = positive(query.get("days"));
        return days === undefined ? { page: "operations" } : { page: "operations", days };
      }
      break;
    default:
      break;
  }
  return { page: "not-found", path: pathPart };
}

function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const qs = params.toString();
  return `#${path}${qs ? `?${qs}` : ""}`;
}

export function href(route: Route): string {
  const e = encodeURIComponent;
  switch (route.page) {
    case "conversations":
      return "#/conversations";
    case "conversation":
      return `#/conversations/${e(route.id)}`;
    case "agent-state":
      return withQuery(`/conversations/${e(route.id)}/state`, { version: route.version });
    case "workflows":
      return "#/workflows";
    case "workflow":
      return withQuery(`/workflows/${e(route.id)}`, { revision: route.revision });
    case "sbom":
      return withQuery(`/workflows/${e(route.id)}/sbom`, { revision: route.revision });
    case "credentials":
      return withQuery("/credentials", { type: route.type });
    case "events":
      return withQuery("/events", { type: route.type, stream: route.stream, since: route.since });
    case "operations":
      return withQuery("/operations", { days: route.days });
    case "not-found":
      return `#${route.path}`;
  }
}

/** What a role needs to open a page. */
export function routeNeeds(route: Route): Capability {
  switch (route.page) {
    case "events":
      return "audit";
    case "operations":
      return "operate";
    default:
      return "read";
  }
}

export function navigate(route: Route, replace = false): void {
  const target = href(route);
  if (replace) window.history.replaceState(null, "", target);
  else window.location.hash = target;
  if (replace) window.dispatchEvent(new HashChangeEvent("hashchange"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = (): void => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}
