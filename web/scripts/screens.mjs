#!/usr/bin/env node
/**
 * Screenshots of every page at desktop and mobile widths, and the chat page's time to interactive, in the
 * system Chromium (never a downloaded browser) against a running `aiwf run`:
 *
 *   AIWF_URL=http://127.0.0.1:8080 AIWF_KEY=<admin key> [AIWF_MEMBER_KEY=…] [AIWF_AUDITOR_KEY=…] \
 *     [SCREENS_DIR=/tmp/web-screens] [CHROMIUM=/usr/bin/chromium] [AXE=/path/to/axe.min.js] npm run screens
 *
 * It drives the app as a person would: signs in, starts a conversation, sends a French and an Arabic
 * message and waits for the replies to arrive live, moves the AgentState slider, opens the workflow
 * (graph, diff) and approves it, opens the SBOM, the credentials, the events and operations pages; with
 * the other keys, checks what a member and an auditor are denied. Console errors, failed requests and
 * Content-Security-Policy violations are listed at the end (and make the exit status non-zero). With AXE
 * (axe-core's axe.min.js, not a dependency of the app), every screenshot is also checked by axe-core and
 * its serious and critical violations are listed.
 */

import { mkdirSync, readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const base = (process.env.AIWF_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
const admin = process.env.AIWF_KEY;
const memberKey = process.env.AIWF_MEMBER_KEY;
const auditorKey = process.env.AIWF_AUDITOR_KEY;
const out = process.env.SCREENS_DIR ?? "/tmp/web-screens";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const axeSource = process.env.AXE ? readFileSync(process.env.AXE, "utf8") : null;
if (!admin) {
  console.error("AIWF_KEY (an admin key of the running API) is needed");
  process.exit(2);
}
mkdirSync(out, { recursive: true });

const VIEWPORTS = {
  desktop: { viewport: { width: 1366, height: 900 } },
  mobile: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
};
const FRENCH =
  "Chaque matin, envoie-moi le total des commandes Shopify d'hier sur Slack, et préviens le livreur Yalidine pour les commandes payées";
const ARABIC = "كل صباح، أرسل لي مجموع طلبات Shopify ليوم أمس على Slack";

const issues = [];
const saved = [];

const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});

async function api(path, key, init = {}) {
  const response = await fetch(base + path, {
    ...init,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...(init.headers ?? {}) },
  });
  if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? null : response.json();
}

async function context(kind, key, lang = "en") {
  const ctx = await browser.newContext({ ...VIEWPORTS[kind], locale: lang === "fr" ? "fr-FR" : "en-GB" });
  await ctx.addInitScript(
    ([k]) => {
      try {
        if (k) sessionStorage.setItem("aiwf.apiKey", k);
      } catch {
        // about:blank has no storage
      }
      window.__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    },
    [key ?? ""],
  );
  const page = await ctx.newPage();
  page.on("console", (m) => {
    // a failed request is logged by the browser too: the pages show the API's problems, 5xx are listed below
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) issues.push(`[${kind}] console: ${m.text()}`);
  });
  page.on("pageerror", (e) => issues.push(`[${kind}] page error: ${e.message}`));
  page.on("response", (r) => {
    // 404 of the routes another engineer is adding is expected until they land; the page shows it
    if (r.status() >= 500) issues.push(`[${kind}] ${r.status()} ${r.url()}`);
  });
  return { ctx, page };
}

async function shot(page, name) {
  await page.waitForTimeout(300);
  const csp = await page.evaluate(() => window.__csp ?? []);
  for (const v of csp) issues.push(`CSP violation on ${name}: ${v}`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (wide > 0) issues.push(`${name}: the page is ${wide}px wider than the screen`);
  if (axeSource) {
    // evaluated through the DevTools protocol, which the page's CSP does not govern
    const found = await page.evaluate(async (source) => {
      if (!window.axe) (0, eval)(source);
      const result = await window.axe.run(document, { resultTypes: ["violations"] });
      return result.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.impact} ${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
    }, axeSource);
    for (const v of found) issues.push(`axe on ${name}: ${v}`);
  }
  const path = `${out}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  saved.push(path);
}

async function open(page, hash, ready) {
  await page.goto(`${base}/${hash}`);
  await page.waitForSelector(ready, { timeout: 15_000 });
}

// --- the scenario, once per viewport ------------------------------------------------------------------
let workflowId = null;
let conversationId = null;

for (const kind of Object.keys(VIEWPORTS)) {
  // sign-in, through the form
  {
    const { ctx, page } = await context(kind, null);
    await page.goto(`${base}/`);
    await page.waitForSelector("#api-key");
    await shot(page, `${kind}-01-sign-in`);
    await page.fill("#api-key", "aiwf_not_a_key");
    await page.click("button[type=submit]");
    await page.waitForSelector(".problem");
    await shot(page, `${kind}-02-sign-in-refused`);
    await page.fill("#api-key", admin);
    await page.click("button[type=submit]");
    await page.waitForSelector("nav.main-nav");
    await ctx.close();
  }

  const { ctx, page } = await context(kind, admin);
  await open(page, "#/conversations", ".cards, .empty");
  await shot(page, `${kind}-03-conversations`);

  // a new conversation, a French message, the reply and the workflow arriving live
  await page.fill("#new-title", `Ventes et livraisons (${kind})`);
  await page.click("form button[type=submit] >> text=/Start|Commencer/");
  await page.waitForSelector("#composer-text");
  await page.waitForSelector(".live-status >> text=/Live|En direct/");
  conversationId = decodeURIComponent(page.url().split("#/conversations/")[1] ?? "");
  await page.fill("#composer-text", FRENCH);
  await page.click(".composer button[type=submit]");
  await page.waitForSelector(".message-assistant", { timeout: 30_000 });
  await page.waitForSelector(".message-workflow a", { timeout: 30_000 });
  await page.waitForSelector(".workflow-card a", { timeout: 30_000 });
  await shot(page, `${kind}-04-chat-french-live`);

  // an Arabic message, right to left
  await page.fill("#composer-text", ARABIC);
  await page.click(".composer button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll(".message-assistant").length >= 2, null, { timeout: 30_000 });
  const arabic = page.locator(".message-user .message-text", { hasText: ARABIC }).last();
  const direction = await arabic.evaluate((el) => getComputedStyle(el).direction);
  if (direction !== "rtl") issues.push(`[${kind}] the Arabic message is laid out ${direction}, not rtl`);
  await shot(page, `${kind}-05-chat-arabic-rtl`);

  // AgentState, its slider moved back in time
  await open(page, `#/conversations/${encodeURIComponent(conversationId)}/state`, "#version-slider");
  await page.waitForSelector(".state-view");
  await shot(page, `${kind}-06-agent-state-latest`);
  await page.focus("#version-slider");
  for (let i = 0; i < 8; i++) await page.keyboard.press("ArrowLeft");
  await page.waitForFunction(() => location.hash.includes("version="));
  await page.waitForTimeout(600);
  await shot(page, `${kind}-07-agent-state-slider`);

  // the workflow: graph, a node selected, approve
  const flows = await api(`/v1/workflows?conversation_id=${encodeURIComponent(conversationId)}`, admin);
  workflowId = flows.items[0]?.workflow_id ?? null;
  if (workflowId) {
    await open(page, `#/workflows/${encodeURIComponent(workflowId)}`, "svg.graph");
    await shot(page, `${kind}-08-workflow`);
    // by keyboard: into the drawing, Tab to its first node, Enter selects it (its focus ring shows)
    await page.focus(".graph-scroll");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.waitForSelector(".node-detail");
    await shot(page, `${kind}-09-workflow-node`);
    const approve = page.locator("button", { hasText: /Approve revision|Approuver la révision/ });
    if (await approve.count()) {
      await approve.click();
      await page.waitForSelector(".page-head .badge >> text=/approved|approuvé|deployed|déployé|deploying|needs credentials/");
      await shot(page, `${kind}-10-workflow-approved`);
    }
    await open(page, `#/workflows/${encodeURIComponent(workflowId)}/sbom`, "#sbom-models");
    await shot(page, `${kind}-12-sbom`);
    // the download is the API's document, byte for byte
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("a[download]")]);
    const saved_ = readFileSync(await download.path());
    const served = Buffer.from(await (await fetch(`${base}/v1/workflows/${workflowId}/sbom`, { headers: { Authorization: `Bearer ${admin}` } })).arrayBuffer());
    if (!saved_.equals(served)) issues.push(`[${kind}] the SBOM downloaded is not the API's document`);
  }
  // a workflow with two revisions: the diff
  const all = await api("/v1/workflows?limit=50", admin);
  const twice = all.items.find((w) => w.revision >= 2);
  if (twice) {
    await open(page, `#/workflows/${encodeURIComponent(twice.workflow_id)}`, "#diff-from");
    await page.locator("#history-title").scrollIntoViewIfNeeded();
    await shot(page, `${kind}-11-workflow-revisions-diff`);
  }

  await open(page, "#/workflows", "table, .empty");
  await shot(page, `${kind}-13-workflows`);
  await open(page, "#/credentials", "#connect-title");
  await shot(page, `${kind}-14-credentials`);
  await open(page, "#/events", "#checkpoints-title");
  await page.waitForSelector("table.events, .empty");
  await page.locator("table.events details summary").first().click().catch(() => undefined);
  await shot(page, `${kind}-15-events-audit`);
  await page.click("button >> text=/Verify now|Vérifier maintenant/");
  await page.waitForSelector("#verify-title ~ .problem, #verify-title ~ div[role=status], .verdict", { timeout: 60_000 }).catch(() => undefined);
  await shot(page, `${kind}-16-audit-verify`);
  await open(page, "#/operations", "h1");
  await page.waitForSelector(".problem, #ops-cost", { timeout: 15_000 });
  await shot(page, `${kind}-17-operations`);
  await ctx.close();

  // French interface, from the browser's language
  {
    const fr = await context(kind, admin, "fr");
    await open(fr.page, `#/conversations/${encodeURIComponent(conversationId)}`, ".messages");
    await fr.page.waitForSelector(".workflow-card a");
    await shot(fr.page, `${kind}-18-chat-in-french`);
    await fr.ctx.close();
  }

  // roles: a member sees no audit page; an auditor cannot write
  if (memberKey) {
    const m = await context(kind, memberKey);
    await open(m.page, "#/events", "h1");
    await shot(m.page, `${kind}-19-member-denied-audit`);
    await m.ctx.close();
  }
  if (auditorKey) {
    const a = await context(kind, auditorKey);
    await open(a.page, `#/conversations/${encodeURIComponent(conversationId)}`, ".messages");
    await shot(a.page, `${kind}-20-auditor-read-only`);
    await a.ctx.close();
  }
}

// --- a shredded conversation: its sealed texts read [shredded], marked as such -------------------------
{
  const started = await api("/v1/conversations", admin, { method: "POST", body: JSON.stringify({ title: "Virements CCP" }) });
  const cid = started.conversation_id;
  await api(`/v1/conversations/${cid}/messages`, admin, {
    method: "POST",
    body: JSON.stringify({ text: "Chaque soir, envoie sur Slack le total des virements reçus sur mon CCP 0012345678 clé 90" }),
  });
  for (let i = 0; i < 50; i++) {
    const messages = await api(`/v1/conversations/${cid}/messages`, admin).catch(() => ({ items: [] })); // not projected yet
    if (messages.items.some((m) => m.role === "assistant")) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await api(`/v1/subjects/${cid}?reason=${encodeURIComponent("the customer asked")}`, admin, { method: "DELETE" });
  await new Promise((r) => setTimeout(r, 1500));
  for (const kind of Object.keys(VIEWPORTS)) {
    const { ctx, page } = await context(kind, admin);
    await open(page, `#/conversations/${encodeURIComponent(cid)}`, ".message-assistant .redacted");
    await shot(page, `${kind}-21-shredded-conversation`);
    await open(page, `#/events?stream=${encodeURIComponent(`conversation-${cid}`)}`, "table.events");
    for (const summary of await page.locator("table.events details summary").all()) await summary.click();
    await shot(page, `${kind}-22-shredded-events`);
    await ctx.close();
  }
}

// --- states the embedded demo does not reach, with the API's answers stubbed in the browser -------------
// (an invalid workflow, a deployment waiting for credentials, GET /v1/operations and POST
// /v1/audit/verifications before they land): named *-stub so no one mistakes them for the real API.
if (workflowId) {
  const today = new Date();
  const day = (n) => new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - n)).toISOString().slice(0, 10);
  const operations = {
    projections: [
      { group: "conversation_views", partition: 0, lag: 0, pending: 0 },
      { group: "conversation_views", partition: 1, lag: 12, pending: 3 },
      { group: "sbom", partition: 1, lag: 0, pending: 0 },
      { group: "projection.archive", partition: 2, lag: 0, pending: 0 },
    ],
    dead_letters: [
      { partition: 0, count: 0 },
      { partition: 1, count: 2 },
    ],
    providers: [
      { process: "worker-a:4121", target: "cloud", name: "anthropic", model: "claude-sonnet-4-5", locality: "cloud", circuit: "closed", failures: 0, reported_at: today.toISOString() },
      { process: "worker-a:4121", target: "local", name: "vllm", model: "qwen2.5-7b-instruct", locality: "local", circuit: "open", failures: 5, reported_at: today.toISOString() },
      { process: "worker-b:977", target: "local", name: "vllm", model: "qwen2.5-7b-instruct", locality: "local", circuit: "half_open", failures: 5, reported_at: today.toISOString() },
    ],
    costs: [0, 1, 2, 3, 4, 5, 6].flatMap((n) => [
      { day: day(n), provider: "anthropic", model: "claude-sonnet-4-5", calls: 40 + n * 3, refused: n % 3, input_tokens: 52000 + n * 900, output_tokens: 9100, cost_micro_usd: 310000 + n * 41000 },
      { day: day(n), provider: "vllm", model: "qwen2.5-7b-instruct", calls: 25 + n, refused: 0, input_tokens: 30000, output_tokens: 6000, cost_micro_usd: 0 },
    ]),
  };
  const report = {
    ok: false,
    streams: 214,
    events: 5123,
    checkpoints: 8,
    signatures_checked: true,
    problem_count: 2,
    problems: [
      { code: "prevhash", where: `workflow-${workflowId}@3`, stream: `workflow-${workflowId}`, version: 3, detail: "prevhash does not name the hash of version 2" },
      { code: "checkpoint_root", where: "aiwf:{p1}:log checkpoint 30", stream: null, version: null, detail: "the log's first 30 entries do not give the signed root" },
    ],
    verified_at: today.toISOString(),
    duration_ms: 412,
  };
  for (const kind of Object.keys(VIEWPORTS)) {
    const { ctx, page } = await context(kind, admin);
    await page.route("**/v1/operations?**", (route) => route.fulfill({ json: operations }));
    await page.route("**/v1/audit/verifications", (route) => route.fulfill({ json: report }));
    await page.route(`**/v1/workflows/${workflowId}`, async (route) => {
      const real = await (await route.fetch()).json();
      const current = real.revisions[real.revisions.length - 1];
      const nodes = JSON.parse(current.definition).nodes.map((n) => n.name);
      current.validation = "invalid";
      current.problems = [
        { code: "unknown_type_version", message: "typeVersion 9 of n8n-nodes-base.slack does not exist in n8n 2.8.4 (known: 2, 2.1, 2.2, 2.3)", node: nodes[4], severity: "error" },
        { code: "expression_unknown_node", message: "the expression names $('Orders'), which is not a node of this workflow", node: nodes[2], severity: "error" },
        { code: "webhook_without_response", message: "the workflow answers nothing to its caller", node: nodes[1], severity: "warning" },
        { code: "missing_settings", message: "settings.executionOrder should be v1", severity: "warning" },
      ];
      real.status = "needs_credentials";
      real.deployment = {
        deployment_id: "d1", revision: real.revision, attempt: 2, target: "https://n8n.example.dz", status: "needs_credentials",
        requested_at: today.toISOString(), n8n_workflow_id: "Xa81bQe0", active: false, finished_at: today.toISOString(),
        webhooks: [{ method: "POST", url: "https://n8n.example.dz/webhook/orders-paid" }],
        missing: [{ node: nodes[4], credential_type: "slackApi" }, { node: nodes[3] ?? nodes[0], credential_type: "shopifyApi", candidates: ["Boutique Alger", "Boutique Oran"] }],
      };
      await route.fulfill({ json: real });
    });
    await open(page, `#/workflows/${encodeURIComponent(workflowId)}`, "svg.graph .node-error");
    await shot(page, `${kind}-23-workflow-problems-credentials-stub`);
    await open(page, "#/operations", "#ops-cost");
    await shot(page, `${kind}-24-operations-stub`);
    await open(page, "#/events", "#verify-title");
    await page.click("button >> text=/Verify now|Vérifier maintenant/");
    await page.waitForSelector(".verdict");
    await shot(page, `${kind}-25-audit-verify-stub`);
    await ctx.close();
  }
}

// --- the chat page's time to interactive ----------------------------------------------------------------
const samples = [];
let cold = -1;
{
  const { ctx, page } = await context("desktop", admin);
  for (let i = 0; i < 6; i++) {
    await page.goto("about:blank");
    await page.goto(`${base}/#/conversations/${encodeURIComponent(conversationId)}`);
    await page.waitForSelector("#composer-text:not([disabled])");
    await page.waitForFunction(() => performance.getEntriesByName("aiwf:chat-ready").length > 0);
    const ms = await page.evaluate(() => {
      const ready = performance.getEntriesByName("aiwf:chat-ready")[0];
      return ready ? ready.startTime : -1;
    });
    if (i > 0) samples.push(ms); // the first load fills the HTTP cache, as any returning visit has
    else cold = ms;
  }
  await ctx.close();
}
samples.sort((a, b) => a - b);
const median = samples[Math.floor(samples.length / 2)];

await browser.close();
console.log(`screenshots (${saved.length}) in ${out}:`);
for (const path of saved) console.log(`  ${path}`);
console.log(
  `chat page interactive (navigation start → messages shown and composer ready), ms: ${samples
    .map((s) => s.toFixed(0))
    .join(", ")}; median ${median.toFixed(0)} (first load, empty cache: ${cold.toFixed(0)})`,
);
if (issues.length > 0) {
  console.log("issues:");
  for (const issue of issues) console.log(`  ${issue}`);
  process.exit(1);
}
