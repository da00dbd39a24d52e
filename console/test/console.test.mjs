// Browser tests of the web console, through its UI alone, in Debian's chromium (headless)
// driven by playwright-core, against a running local stack: YEBOLINK_BASE_URL (the same stack
// as the black-box suite). axe-core scans every screen. Screenshots go to target/console/.
// Run: YEBOLINK_BASE_URL=http://127.0.0.1:PORT node --test console/test/ (scripts/browser.sh).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const HERE = dirname(fileURLToPath(import.meta.url));
const CONSOLE_DIR = join(HERE, "..");
const ROOT = join(CONSOLE_DIR, "..");
const SHOTS = process.env.CONSOLE_SCREENSHOTS || join(ROOT, "target", "console");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const BASE = (process.env.YEBOLINK_BASE_URL || "").replace(/\/+$/, "");
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const PASSWORD = "correct horse battery staple console";
const EMAIL = `console-${Date.now()}-${process.pid}@example.com`;
const KEY_SHAPE = /^ybk_[0-9a-f]{48}$/;
const SECRET_SHAPE = /^whsec_[A-Za-z0-9+/]+={0,2}$/;
// Local stacks only: the address a client says it calls from (docs/api.md, "Rate limits").
const SOURCE_IP_HEADER = "X-Yebolink-Local-Source-Ip";
const INSIDE = "203.0.113.9"; // in 203.0.113.0/24, the Limited key's allowed block
const OUTSIDE = "198.51.100.7"; // outside it

let userDataDir;
let context;
let page;
const pageErrors = []; // console errors, uncaught exceptions, CSP reports
const foreignRequests = [];
const keys = {}; // name -> full key, as copied from the show-once dialog
const secrets = {}; // "first", "rotated" -> a webhook endpoint's signing secret, from its dialog
let receiver; // the loopback webhook receiver the webhook tests start
let hookUrl; // its URL, as the endpoint is registered

function log(line) {
  process.stdout.write(`${line}\n`);
}

// Navigation Timing and Paint Timing of the current document, in ms since navigation start.
async function paintTiming() {
  return page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const paint = Object.fromEntries(performance.getEntriesByType("paint").map((p) => [p.name, p.startTime]));
    return {
      responseStart: nav.responseStart, domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
      firstPaint: paint["first-paint"], firstContentfulPaint: paint["first-contentful-paint"],
    };
  });
}

// The whole page, or the viewport when a modal dialog is open (its backdrop covers only that).
async function shot(name) {
  const modal = await page.evaluate(() => !!document.querySelector("dialog[open]"));
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: !modal });
}

// axe-core over the whole document: no serious or critical violation. Evaluated through the
// DevTools protocol, which the page's CSP does not govern (a <script> tag would be refused).
async function axe(screen) {
  const loaded = await page.evaluate(() => typeof window.axe === "object");
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const violations = result.violations.map((v) => `${v.id} (${v.impact}, ${v.nodes.length} nodes)`);
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  log(`axe ${screen}: ${result.violations.length} violations, ${bad.length} serious or critical${violations.length ? ": " + violations.join(", ") : ""}`);
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join("; ")})`), [],
    `axe-core on the ${screen} screen`);
}

// The HTTP client a program would use: the key goes in X-API-Key. `sourceIp`, when given, is
// the address the client calls from (without it the stack sees 127.0.0.1).
async function send(key, sourceIp) {
  const headers = { "X-API-Key": key, "Content-Type": "application/json" };
  if (sourceIp) headers[SOURCE_IP_HEADER] = sourceIp;
  const response = await fetch(`${BASE}/api/v1/messages/send`, {
    method: "POST",
    headers,
    body: JSON.stringify({ to: "+26876123456", channel: "sms", content: { text: "Hello from the console test" } }),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

// One page of messages, read with `key` from `sourceIp`; `limit` is the X-RateLimit-Limit shown.
async function readMessages(key, sourceIp) {
  const response = await fetch(`${BASE}/api/v1/messages?limit=1`, {
    headers: { "X-API-Key": key, [SOURCE_IP_HEADER]: sourceIp },
  });
  return { status: response.status, limit: response.headers.get("x-ratelimit-limit"), body: await response.json() };
}

function row(name) {
  return page.locator("#keys-body tr").filter({ has: page.locator("td .name", { hasText: new RegExp(`^${name}$`) }) });
}

// Controls by their accessible name, within one screen (hidden screens hold the same labels).
function field(screen, label) {
  return page.locator(`#${screen}`).getByLabel(label, { exact: true });
}

async function createKey(name, scopes) {
  await field("keys-screen", "Key name").fill(name);
  for (const scope of ["send_messages", "read_messages"]) {
    await page.getByRole("checkbox", { name: scope }).setChecked(scopes.includes(scope));
  }
  await page.getByRole("button", { name: "Create key" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  return dialog;
}

// ------------------------------------------------------------------ webhooks
// A webhook receiver on loopback (the stack runs with WEBHOOK_URL_POLICY=loopback): it answers
// 200 (500 to the next `failNext` requests) and keeps each request, its body as the exact bytes.
function startReceiver() {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      let json = null;
      try {
        json = JSON.parse(raw.toString("utf8"));
      } catch {
        // Kept as null: the test that reads it says so.
      }
      const status = server.failNext > 0 ? 500 : 200;
      if (status !== 200) server.failNext -= 1;
      requests.push({ method: req.method, path: req.url, headers: req.headers, raw, json, status, received: Date.now() });
      res.writeHead(status, { "Content-Type": "text/plain" });
      res.end(status === 200 ? "ok" : "receiver down");
    });
  });
  server.failNext = 0;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve({ server, requests, port: server.address().port }));
  });
}

function stopReceiver(r) {
  if (!r) return Promise.resolve();
  r.server.closeAllConnections?.();
  return new Promise((resolve) => r.server.close(() => resolve()));
}

// The Standard Webhooks signature: base64 HMAC-SHA256 over "{id}.{timestamp}.{body}", keyed
// with the base64-decoded part of the secret after "whsec_".
function signature(secret, id, timestamp, raw) {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return createHmac("sha256", key).update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), raw])).digest("base64");
}

// Whether one of the space-separated "v1,<base64>" signatures of a request is `secret`'s.
function signedWith(request, secret) {
  const expected = Buffer.from(`v1,${signature(secret, request.headers["webhook-id"], request.headers["webhook-timestamp"], request.raw)}`);
  return String(request.headers["webhook-signature"] || "").split(" ").some((given) => {
    const bytes = Buffer.from(given);
    return bytes.length === expected.length && timingSafeEqual(bytes, expected);
  });
}

// The Standard Webhooks headers of one delivery attempt, and its body's envelope.
function assertDeliveryShape(request, type) {
  assert.equal(request.method, "POST");
  assert.equal(request.path, "/hook");
  assert.match(request.headers["webhook-id"] || "", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const timestamp = Number(request.headers["webhook-timestamp"]);
  assert.ok(/^\d+$/.test(request.headers["webhook-timestamp"] || "") && Math.abs(timestamp - Date.now() / 1000) < 300,
    `webhook-timestamp is now, in Unix seconds: ${request.headers["webhook-timestamp"]}`);
  assert.match(request.headers["webhook-signature"] || "", /^v1,[A-Za-z0-9+/]+={0,2}( v1,[A-Za-z0-9+/]+={0,2})*$/);
  assert.match(request.headers["content-type"] || "", /^application\/json/);
  assert.equal(request.headers["user-agent"], "YeboLink-Webhooks/1");
  assert.ok(request.json, "the body is JSON");
  assert.equal(request.json.type, type);
  assert.ok(!Number.isNaN(Date.parse(request.json.timestamp)), `timestamp is RFC 3339: ${request.json.timestamp}`);
  assert.equal(typeof request.json.data, "object");
}

// Polls `probe` until it returns something truthy, for up to `ms`.
async function eventually(probe, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    assert.ok(Date.now() < deadline, `${what}: not within ${ms / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function hooksOf(type) {
  return receiver.requests.filter((r) => r.json && r.json.type === type);
}

function endpointRow() {
  return page.locator("#webhooks-body tr").filter({ has: page.locator("code.url", { hasText: hookUrl }) });
}

function deliveryRow(id) {
  return page.locator(`#deliveries-body tr[data-delivery-id="${id}"]`);
}

async function gotoPage(link, heading) {
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: link, exact: true }).click();
  await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
}

async function closeSecretDialog() {
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("button", { name: "I have saved it" }).click();
  await dialog.waitFor({ state: "hidden" });
  await page.waitForFunction(() => document.getElementById("secret-value").value === "", null, { timeout: 2000 });
}

describe("web console in a real browser", { concurrency: false }, () => {
  before(async () => {
    assert.ok(BASE, "YEBOLINK_BASE_URL must name the running stack (http://127.0.0.1:PORT)");
    mkdirSync(SHOTS, { recursive: true });
    userDataDir = mkdtempSync(join(tmpdir(), "yebolink-console-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1280, height: 800 },
    });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
    page = context.pages()[0] || (await context.newPage());
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(`console: ${message.text()}`);
    });
    page.on("pageerror", (error) => pageErrors.push(`uncaught: ${error.message}`));
    page.on("request", (request) => {
      if (!request.url().startsWith(`${BASE}/`)) foreignRequests.push(request.url());
    });
  });

  after(async () => {
    await stopReceiver(receiver);
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it("is at most 100 KB of JavaScript and CSS gzipped", () => {
    const sizes = ["console.js", "console.css"].map((f) => {
      const raw = readFileSync(join(CONSOLE_DIR, f));
      return { f, raw: raw.length, gz: gzipSync(raw, { level: 9 }).length };
    });
    const total = sizes.reduce((sum, s) => sum + s.gz, 0);
    log(`size: ${sizes.map((s) => `${s.f} ${s.raw} B (${s.gz} B gzipped)`).join(", ")}; total ${total} B gzipped (budget 102400 B)`);
    assert.ok(total <= 100 * 1024, `${total} bytes gzipped`);
  });

  it("serves the login page from the API's origin with a strict CSP and paints it", async () => {
    const response = await page.goto(`${BASE}/`, { waitUntil: "load" });
    assert.equal(response.status(), 200);
    const headers = response.headers();
    const csp = headers["content-security-policy"] || "";
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) {
      assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp}`);
    }
    assert.ok(!csp.includes("unsafe-"), csp);
    assert.equal(headers["x-content-type-options"], "nosniff");
    assert.equal(headers["referrer-policy"], "no-referrer");
    // No CORS is opened on the console or on the API.
    assert.equal(headers["access-control-allow-origin"], undefined);
    const api = await fetch(`${BASE}/api/v1/auth/login`, {
      method: "POST", headers: { Origin: "https://evil.example", "Content-Type": "application/json" }, body: "{}",
    });
    assert.equal(api.headers.get("access-control-allow-origin"), null, "the API answers a foreign origin without CORS headers");

    await page.getByRole("heading", { name: "Log in to your workspace" }).waitFor();
    // The first load (fresh profile, nothing cached) and a reload, as a returning owner sees it.
    const cold = await paintTiming();
    await page.reload({ waitUntil: "load" });
    await page.getByRole("heading", { name: "Log in to your workspace" }).waitFor();
    const warm = await paintTiming();
    const ms = (v) => (typeof v === "number" ? `${v.toFixed(1)} ms` : "n/a");
    for (const [label, t] of [["first load", cold], ["reload", warm]]) {
      log(`first paint of the login page (${label}): first-contentful-paint ${ms(t.firstContentfulPaint)} (target <= 500 ms); first-paint ${ms(t.firstPaint)}, response start ${ms(t.responseStart)}, DOMContentLoaded ${ms(t.domContentLoaded)}, load ${ms(t.load)}`);
      assert.equal(typeof t.firstContentfulPaint, "number", "the browser reported a contentful paint");
    }
    await shot("login");
    await axe("login");
  });

  it("is operable from the keyboard with a visible focus", async () => {
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    const visited = [];
    for (let i = 0; i < 4; i += 1) {
      await page.keyboard.press("Tab");
      visited.push(await page.evaluate(() => {
        const el = document.activeElement;
        const style = getComputedStyle(el);
        return { id: el.id || el.textContent.trim(), outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 };
      }));
    }
    assert.deepEqual(visited.map((v) => v.id), ["login-email", "login-password", "Log in", "to-signup"]);
    assert.ok(visited.every((v) => v.outline), `focus outline on each: ${JSON.stringify(visited)}`);
  });

  it("signs up a new workspace", async () => {
    await page.getByRole("button", { name: "Create one" }).click();
    await page.getByRole("heading", { name: "Create a workspace" }).waitFor();
    await shot("signup");
    await axe("signup");
    await field("signup-screen", "Workspace name").fill("Console Test Workspace");
    await field("signup-screen", "Email").fill(EMAIL);
    await field("signup-screen", "Password").fill("too short");
    await page.getByRole("button", { name: "Sign up" }).click();
    // The API's envelope message, in words.
    await page.getByRole("alert").filter({ hasText: "password" }).waitFor();
    await field("signup-screen", "Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.getByRole("heading", { name: "API keys", level: 1 }).waitFor();
    await page.getByText("No keys yet").waitFor();
    const storage = await page.evaluate(() => ({
      session: sessionStorage.length, local: localStorage.length, cookie: document.cookie,
    }));
    assert.deepEqual(storage, { session: 1, local: 0, cookie: "" }, "the JWT is in sessionStorage only");
    await shot("keys-empty");
    await axe("keys (empty)");
  });

  it("creates two keys with different scopes and shows each once", async () => {
    let dialog = await createKey("Sender", ["send_messages"]);
    await assert.doesNotReject(dialog.getByText("Save this key securely. It will not be shown again.").waitFor());
    const shown = await dialog.getByLabel("API key", { exact: true }).inputValue();
    // Never assert.equal/match on a key: a failure would print it into the test log.
    assert.ok(KEY_SHAPE.test(shown), "the dialog shows a full key");
    await dialog.getByRole("button", { name: "Copy" }).click();
    await dialog.getByText("Copied to the clipboard.").waitFor();
    keys.Sender = await page.evaluate(() => navigator.clipboard.readText());
    assert.ok(keys.Sender === shown, "the clipboard holds the key from the dialog");
    await shot("create-dialog");
    await axe("show-once dialog");
    await dialog.getByRole("button", { name: "I have saved it" }).click();
    await dialog.waitFor({ state: "hidden" });
    const html = await page.evaluate(() => document.documentElement.outerHTML
      + [...document.querySelectorAll("input")].map((i) => i.value).join(" "));
    assert.ok(!html.includes(keys.Sender.slice(4)), "the key left the DOM when the dialog closed");

    dialog = await createKey("Reader", ["read_messages"]);
    keys.Reader = await dialog.getByLabel("API key", { exact: true }).inputValue();
    assert.ok(KEY_SHAPE.test(keys.Reader), "the dialog shows a full key");
    await page.keyboard.press("Escape"); // closing by Escape forgets the key too
    await dialog.waitFor({ state: "hidden" });
    // The dialog hides at once; its close event, which empties the field, is a task later.
    const emptied = await page.waitForFunction(() => document.getElementById("secret-value").value === "",
      null, { timeout: 2000 }).then(() => true, () => false);
    assert.ok(emptied, "the key left the dialog");

    await row("Reader").getByText("Active").waitFor();
    assert.deepEqual(await page.locator("#keys-body tr").count(), 2);
    assert.match(await row("Sender").innerText(), /send_messages/);
    assert.doesNotMatch(await row("Sender").innerText(), /read_messages/);
    assert.match(await row("Reader").innerText(), /read_messages/);
    assert.doesNotMatch(await row("Reader").innerText(), /send_messages/);
    assert.match(await row("Sender").innerText(), /ybk_[0-9a-f]{7}\.\.\./);
    // Both new keys are flagged as never used, as the documentation's audit recipe would.
    await row("Sender").getByText("unused: never used").waitFor();
    await row("Reader").getByText("unused: never used").waitFor();
  });

  it("uses a copied key from an HTTP client and then shows when it was last used", async () => {
    const sent = await send(keys.Sender);
    assert.equal(sent.status, 201, JSON.stringify(sent.body));

    await page.getByRole("button", { name: "Refresh", exact: true }).click();
    const lastUsed = row("Sender").locator("td.last-used time");
    await lastUsed.waitFor();
    assert.match(await lastUsed.innerText(), /just now|seconds? ago|minute ago/);
    const exact = await lastUsed.getAttribute("title");
    assert.match(exact, /\d{4}.*UTC/, `the exact time on hover: ${exact}`);
    assert.equal(await row("Sender").getByText("unused").count(), 0, "a key just used is not unused");
    // The send is counted in the key's usage at once, and the address it came from is shown.
    assert.equal(await row("Sender").locator("td.requests").innerText(), "1");
    assert.equal(await row("Reader").locator("td.requests").innerText(), "0");
    assert.match(exact, /from 127\.0\.0\.1$/);
    await row("Reader").getByText("unused: never used").waitFor();
    await shot("keys");
    await axe("keys");
  });

  it("rotates a key in one click: the new key is shown once, the old one is refused after the overlap", async () => {
    let dialog = await createKey("Rotated", ["send_messages", "read_messages"]);
    keys.Rotated = await dialog.getByLabel("API key", { exact: true }).inputValue();
    await dialog.getByRole("button", { name: "I have saved it" }).click();
    await dialog.waitFor({ state: "hidden" });
    // Created with the default expiry, the page's 90-day rotation rhythm.
    const expires = await row("Rotated").locator("td.expires time").getAttribute("datetime");
    const days = (new Date(expires).getTime() - Date.now()) / 86400000;
    assert.ok(days > 89.9 && days <= 90, `expires in ${days} days`);

    await page.getByRole("button", { name: "Rotate Rotated" }).click();
    dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: 'Rotate "Rotated"?' }).waitFor();
    await shot("rotate-confirm");
    await axe("rotate confirmation");
    await dialog.getByLabel("The old key keeps working").selectOption("0");
    await dialog.getByRole("button", { name: "Rotate", exact: true }).click();
    await page.getByRole("heading", { name: 'Save your new API key "Rotated"' }).waitFor();
    const fresh = await page.getByRole("dialog").getByLabel("API key", { exact: true }).inputValue();
    assert.ok(KEY_SHAPE.test(fresh) && fresh !== keys.Rotated, "the dialog shows a new full key");
    await page.getByRole("button", { name: "I have saved it" }).click();

    await row("Rotated").filter({ hasText: "Expired" }).waitFor();
    await row("Rotated").filter({ hasText: "Active" }).waitFor();
    assert.equal(await row("Rotated").count(), 2);
    assert.equal((await send(keys.Rotated)).status, 401, "the old key is refused (no overlap chosen)");
    assert.equal((await send(fresh)).status, 201, "the new key works");
    await shot("keys-rotated");
    await axe("keys after rotation");
  });

  it("creates a key with its own limit, allowed addresses, metadata and monthly limit under Advanced", async () => {
    const advanced = page.locator("#create-form details").filter({ has: page.locator("summary", { hasText: "Advanced" }) });
    assert.equal(await advanced.evaluate((d) => d.open), false, "the settings are folded away until asked for");
    await advanced.locator("summary").click();
    await field("keys-screen", "Rate limit per minute").waitFor();
    await field("keys-screen", "Key name").fill("Limited");
    for (const scope of ["send_messages", "read_messages"]) {
      await page.getByRole("checkbox", { name: scope }).setChecked(true);
    }
    await field("keys-screen", "Rate limit per minute").fill("7");
    await field("keys-screen", "Allowed addresses").fill("203.0.113.0/24");
    await field("keys-screen", "Metadata").fill("team=growth");
    await field("keys-screen", "Monthly send limit").fill("100");
    await advanced.locator("summary").filter({ hasText: "(4 set)" }).waitFor();
    await shot("create-advanced");
    await axe("create form, Advanced open");

    // A refused setting: the API's 400 names the field, in the form's error, and nothing is created.
    await field("keys-screen", "Allowed addresses").fill("203.0.113.0/24\nnot-an-address");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByRole("alert").filter({ hasText: "allowed_ips[" }).waitFor();
    await axe("create form, a setting refused");
    await page.getByRole("button", { name: "Refresh", exact: true }).click();
    await page.waitForFunction(() => !document.getElementById("refresh").disabled);
    assert.equal(await page.locator("#keys-body tr").count(), 4);
    assert.equal(await row("Limited").count(), 0, "nothing was created");

    await field("keys-screen", "Allowed addresses").fill("203.0.113.0/24");
    await page.getByRole("button", { name: "Create key" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: 'Save your new API key "Limited"' }).waitFor();
    keys.Limited = await dialog.getByLabel("API key", { exact: true }).inputValue();
    assert.ok(KEY_SHAPE.test(keys.Limited), "the dialog shows a full key");
    await dialog.getByRole("button", { name: "I have saved it" }).click();
    await dialog.waitFor({ state: "hidden" });
    assert.equal(await page.locator("#create-error").isHidden(), true, "the error went with the success");
    // The next key starts from the defaults again.
    assert.equal(await field("keys-screen", "Rate limit per minute").inputValue(), "");
    assert.equal(await field("keys-screen", "Allowed addresses").inputValue(), "");
    assert.equal((await advanced.locator("summary").innerText()).trim(), "Advanced", "no setting is left in the folded section");

    // The list shows the key's limit, monthly limit, address restriction and labels.
    const limits = row("Limited").locator("td.limits");
    await limits.filter({ hasText: "7/min" }).waitFor();
    assert.match(await limits.innerText(), /100\/month/);
    assert.match(await limits.innerText(), /203\.0\.113\.0\/24/);
    assert.doesNotMatch(await limits.innerText(), /any address/);
    await row("Limited").locator(".meta").getByText("team=growth", { exact: true }).waitFor();
    // A key created without settings: the default limit in force, any address, no monthly limit.
    const plain = await row("Reader").locator("td.limits").innerText();
    assert.match(plain, /^\s*\d+\/min\s+any address\s*$/, plain);

    // The API applies them: the key's own window inside the block, a 403 outside it.
    const inside = await readMessages(keys.Limited, INSIDE);
    assert.equal(inside.status, 200, JSON.stringify(inside.body));
    assert.equal(inside.limit, "7", "X-RateLimit-Limit is the key's own limit");
    const outside = await readMessages(keys.Limited, OUTSIDE);
    assert.equal(outside.status, 403, JSON.stringify(outside.body));
    assert.equal(outside.body.error.code, "ip_not_allowed");
    const sent = await send(keys.Limited, INSIDE);
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.equal(sent.headers.get("x-quota-limit"), "100");
    assert.equal(sent.headers.get("x-quota-remaining"), "99");
  });

  it("edits a key in place: the list and the very next request show the change", async () => {
    // Only active keys that were not rotated can be edited: the expired predecessor has no Edit.
    assert.equal(await row("Rotated").count(), 2);
    assert.equal(await page.getByRole("button", { name: "Edit Rotated" }).count(), 1);

    await page.getByRole("button", { name: "Edit Limited" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: 'Edit "Limited"' }).waitFor();
    const input = (label) => dialog.getByLabel(label, { exact: true });
    // Prefilled from the key view.
    assert.equal(await input("Key name").inputValue(), "Limited");
    assert.equal(await dialog.getByRole("checkbox", { name: "send_messages" }).isChecked(), true);
    assert.equal(await dialog.getByRole("checkbox", { name: "read_messages" }).isChecked(), true);
    assert.equal(await input("Rate limit per minute").inputValue(), "7");
    assert.equal(await input("Allowed addresses").inputValue(), "203.0.113.0/24");
    assert.equal(await input("Metadata").inputValue(), "team=growth");
    assert.equal(await input("Monthly send limit").inputValue(), "100");
    await shot("edit-dialog");
    await axe("edit dialog");

    // A refused value: the API's message in the dialog, which stays open.
    await input("Rate limit per minute").fill("0");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.getByRole("alert").filter({ hasText: "rate_limit_per_minute" }).waitFor();
    await shot("edit-error");
    await axe("edit dialog with an error");

    // A tighter limit and no address restriction; the other settings are left as they are.
    await input("Rate limit per minute").fill("5");
    await input("Allowed addresses").fill("");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("status").filter({ hasText: "Limited was updated." }).waitFor();
    const limits = row("Limited").locator("td.limits");
    await limits.filter({ hasText: "5/min" }).waitFor();
    assert.match(await limits.innerText(), /any address/);
    assert.match(await limits.innerText(), /100\/month/);
    assert.doesNotMatch(await limits.innerText(), /203\.0\.113/);
    await row("Limited").locator(".meta").getByText("team=growth", { exact: true }).waitFor();
    const refocused = await page.waitForFunction(
      () => (document.activeElement.getAttribute("aria-label") || "").startsWith("Edit Limited"), null, { timeout: 2000 },
    ).then(() => true, () => false);
    assert.ok(refocused, "focus is back on the key's Edit button");

    // The very next request: from the address refused before, under the new limit.
    const read = await readMessages(keys.Limited, OUTSIDE);
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.equal(read.limit, "5", "X-RateLimit-Limit is the edited limit");
    await shot("keys-edited");
    await axe("keys after an edit");
  });

  it("shows the audit trail of every change, newest first", async () => {
    await page.getByRole("button", { name: "Refresh the audit trail" }).click();
    const events = page.locator("#audit-body tr");
    await events.filter({ hasText: "Key edited" }).waitFor();
    const types = await events.evaluateAll((rows) => rows.map((r) => r.dataset.eventType));
    assert.deepEqual(types, [
      "api_key.updated", "api_key.created", "api_key.rotated", "api_key.created", "api_key.created", "api_key.created",
      "user.registered",
    ]);
    assert.match(await events.first().innerText(), /ybk_[0-9a-f]{7}\.\.\./);
    // The edit names the fields it changed (and only those).
    const edited = await events.first().innerText();
    assert.match(edited, /Key edited \(.*rate_limit_per_minute/);
    assert.match(edited, /allowed_ips/);
    assert.doesNotMatch(edited, /\b(metadata|monthly_send_limit|name|scopes)\b/);
    await shot("audit-trail");
    await axe("audit trail");
  });

  it("deactivates a key after a confirmation that names it, and the API then refuses it", async () => {
    await page.getByRole("button", { name: "Deactivate Sender" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: 'Deactivate "Sender"?' }).waitFor();
    await shot("deactivate-confirm");
    await axe("deactivate confirmation");
    await dialog.getByRole("button", { name: "Deactivate", exact: true }).click();
    await dialog.waitFor({ state: "hidden" });
    await row("Sender").getByText("Deactivated").waitFor();
    await page.getByRole("status").filter({ hasText: "Sender was deactivated." }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Deactivate Sender" }).count(), 0);
    assert.equal(await page.getByRole("button", { name: "Edit Sender" }).count(), 0, "a deactivated key has no Edit");

    const refused = await send(keys.Sender);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, "invalid_api_key");
  });

  it("adds a webhook endpoint on the Webhooks page: a refused URL in the API's words, the secret shown once", async () => {
    receiver = await startReceiver();
    hookUrl = `http://127.0.0.1:${receiver.port}/hook`;
    await gotoPage("Webhooks", "Webhooks");
    assert.equal(await page.title(), "Webhooks - YeboLink Keys console");
    assert.equal(await page.getByRole("link", { name: "Webhooks", exact: true }).getAttribute("aria-current"), "page");
    await page.getByText("No endpoints yet").waitFor();
    // Every key event is chosen by default.
    const screen = page.locator("#webhooks-screen");
    for (const type of ["api_key.created", "api_key.updated", "api_key.rotated", "api_key.deactivated",
      "api_key.leak_reported", "api_key.expiring"]) {
      assert.equal(await screen.getByRole("checkbox", { name: type }).isChecked(), true, type);
    }
    await shot("webhooks-empty");
    await axe("webhooks (empty)");

    // Only loopback URLs are accepted by a local stack: the API's 400 names the field.
    await field("webhooks-screen", "Endpoint URL").fill("http://example.com/hook");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const refused = page.getByRole("alert").filter({ hasText: /\burl\b.*\(validation_error\)/ });
    await refused.waitFor();
    await shot("webhook-refused");
    await axe("webhooks, a URL refused");
    assert.equal(await page.getByRole("dialog").count(), 0, "no secret for a refused endpoint");
    await page.getByRole("button", { name: "Refresh the endpoints" }).click();
    await page.waitForFunction(() => !document.getElementById("webhooks-refresh").disabled);
    assert.equal(await page.locator("#webhooks-body tr").count(), 0, "nothing was added");

    await field("webhooks-screen", "Endpoint URL").fill(hookUrl);
    await field("webhooks-screen", "Description").fill("Console test receiver");
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: "Save your webhook signing secret" }).waitFor();
    await dialog.getByText("Save this signing secret securely. It will not be shown again.").waitFor();
    const shown = await dialog.getByLabel("Signing secret", { exact: true }).inputValue();
    // Never assert.equal/match on a secret: a failure would print it into the test log.
    assert.ok(SECRET_SHAPE.test(shown) && Buffer.from(shown.slice(6), "base64").length >= 24,
      "the dialog shows a whsec_ secret of at least 24 random bytes");
    await dialog.getByRole("button", { name: "Copy" }).click();
    await dialog.getByText("Copied to the clipboard.").waitFor();
    secrets.first = await page.evaluate(() => navigator.clipboard.readText());
    assert.ok(secrets.first === shown, "the clipboard holds the secret from the dialog");
    await shot("webhook-secret");
    await axe("webhook secret dialog");
    await closeSecretDialog();
    assert.equal(await page.locator("#webhook-create-error").isHidden(), true, "the error went with the success");

    const row = endpointRow();
    await row.waitFor();
    assert.equal(await row.getAttribute("data-status"), "enabled");
    await row.getByText("Enabled", { exact: true }).waitFor();
    await row.getByText("Console test receiver").waitFor();
    await row.getByText("All key events").waitFor();
    // The list (GET /webhooks) never holds the secret, and the page forgot it.
    const html = await page.evaluate(() => document.documentElement.outerHTML
      + [...document.querySelectorAll("input")].map((i) => i.value).join(" "));
    assert.ok(!html.includes(secrets.first.slice(6)), "the secret left the DOM when the dialog closed");
    // The form starts from the defaults again.
    assert.equal(await field("webhooks-screen", "Endpoint URL").inputValue(), "");
    assert.equal(await screen.getByRole("checkbox", { name: "api_key.expiring" }).isChecked(), true);
    // The new endpoint's deliveries are shown, none yet.
    await page.getByText("No deliveries yet").waitFor();
  });

  it("sends a test event: the receiver gets webhook.test signed with the secret, the delivery succeeded in one attempt", async () => {
    await page.getByRole("button", { name: `Send test to ${hookUrl}` }).click();
    await page.getByRole("status").filter({ hasText: `Test event sent to ${hookUrl}: succeeded` }).waitFor();
    const tests = hooksOf("webhook.test");
    assert.equal(tests.length, 1, "one webhook.test request, made inside POST .../test");
    const [request] = tests;
    assertDeliveryShape(request, "webhook.test");
    assert.ok(signedWith(request, secrets.first), "webhook-signature verifies with the secret shown once");
    assert.equal(request.headers["webhook-signature"].split(" ").length, 1, "one signature before any rotation");
    const hookId = await endpointRow().getAttribute("data-webhook-id");
    assert.equal(request.json.data.webhook_id, hookId);
    assert.equal(typeof request.json.data.message, "string");

    // The delivery's id is the webhook-id it was sent with.
    const delivery = deliveryRow(request.headers["webhook-id"]);
    await delivery.waitFor();
    assert.equal(await delivery.getAttribute("data-event-type"), "webhook.test");
    assert.equal(await delivery.getAttribute("data-status"), "succeeded");
    await delivery.getByText("Succeeded", { exact: true }).waitFor();
    const attempts = delivery.locator("td.attempts li");
    assert.equal(await attempts.count(), 1, "one attempt");
    assert.match(await attempts.first().innerText(), /\d{2}:\d{2}:\d{2} UTC HTTP 200, [\d,]+ ms/);
    assert.equal((await delivery.locator("td.next").innerText()).trim(), "-", "no next attempt");
    await shot("webhook-test-sent");
    await axe("webhooks after a test");
  });

  it("shows a failed attempt and its retry: a receiver answering 500 once, then 200", async () => {
    receiver.server.failNext = 1;
    await page.getByRole("button", { name: `Send test to ${hookUrl}` }).click();
    await page.getByRole("status").filter({ hasText: `Test event sent to ${hookUrl}: pending (HTTP 500` }).waitFor();
    const first = hooksOf("webhook.test").filter((r) => r.status === 500).at(-1);
    assert.ok(first, "the receiver answered the test with a 500");
    const id = first.headers["webhook-id"];
    const delivery = deliveryRow(id);
    await delivery.waitFor();
    assert.match(await delivery.locator("td.attempts li").first().innerText(), /HTTP 500, [\d,]+ ms/);
    assert.equal(await delivery.locator("td.attempts li.failed").count() >= 1, true, "the 500 is shown as a failure");
    // Pending, with its next attempt; or already retried by the scheduler (seconds locally).
    const state = await delivery.getAttribute("data-status");
    if (state === "pending") assert.notEqual((await delivery.locator("td.next").innerText()).trim(), "-", "a next attempt");
    else assert.equal(state, "succeeded");
    await shot("webhook-attempt-failed");
    await axe("webhooks, an attempt failed");
    // Retried after the local delay (WEBHOOK_RETRY_DELAYS_SECONDS): one webhook-id, the 500 first.
    await eventually(async () => {
      await page.getByRole("button", { name: "Refresh the deliveries" }).click();
      await page.waitForFunction(() => !document.getElementById("deliveries-refresh").disabled);
      return (await delivery.getAttribute("data-status")) === "succeeded";
    }, 15000, "the failed test delivery retried and succeeded");
    const attempts = await delivery.locator("td.attempts li").allInnerTexts();
    assert.ok(attempts.length >= 2, attempts.join(" | "));
    assert.match(attempts[0], /HTTP 500/);
    assert.match(attempts.at(-1), /HTTP 200/);
    const sent = receiver.requests.filter((r) => r.headers["webhook-id"] === id);
    assert.equal(sent.length, attempts.length, "each attempt reached the receiver with the same webhook-id");
    assert.ok(sent.every((r) => signedWith(r, secrets.first)), "every attempt is signed");
    assert.deepEqual(sent.map((r) => r.status), [500, ...sent.slice(1).map(() => 200)]);
  });

  it("delivers api_key.created when a key is created on the Keys page, and retries a delivery on request", async () => {
    await gotoPage("API keys", "API keys");
    const dialog = await createKey("Hooked", ["send_messages"]);
    keys.Hooked = await dialog.getByLabel("API key", { exact: true }).inputValue();
    assert.ok(KEY_SHAPE.test(keys.Hooked), "the dialog shows a full key");
    await closeSecretDialog();
    await gotoPage("Webhooks", "Webhooks");

    // From the change stream, asynchronously: the receiver and then the list, within seconds.
    const isHooked = (r) => r.json.data && r.json.data.name === "Hooked";
    const request = await eventually(() => hooksOf("api_key.created").find(isHooked), 15000,
      "the receiver got api_key.created for the key Hooked");
    assertDeliveryShape(request, "api_key.created");
    assert.ok(signedWith(request, secrets.first), "signed with the endpoint's secret");
    // The key view as GET /api-keys lists it: never the key itself.
    assert.match(request.json.data.key_prefix, /^ybk_[0-9a-f]{7}\.\.\.$/);
    assert.ok(!("key" in request.json.data) && !request.raw.includes(Buffer.from(keys.Hooked.slice(4))),
      "the payload does not hold the key");
    const id = request.headers["webhook-id"];
    const delivery = deliveryRow(id);
    await eventually(async () => {
      if (await delivery.count()) return true;
      await page.getByRole("button", { name: "Refresh the deliveries" }).click();
      await page.waitForFunction(() => !document.getElementById("deliveries-refresh").disabled);
      return (await delivery.count()) > 0;
    }, 10000, "the api_key.created delivery in the list");
    assert.equal(await delivery.getAttribute("data-event-type"), "api_key.created");
    await eventually(async () => {
      if ((await delivery.getAttribute("data-status")) === "succeeded") return true;
      await page.getByRole("button", { name: "Refresh the deliveries" }).click();
      await page.waitForFunction(() => !document.getElementById("deliveries-refresh").disabled);
      return false;
    }, 10000, "the api_key.created delivery succeeded");
    assert.equal(await delivery.locator("td.attempts li").count(), 1);
    // Newest first: the key's event came after the test.
    const types = await page.locator("#deliveries-body tr").evaluateAll((rows) => rows.map((r) => r.dataset.eventType));
    assert.ok(types.indexOf("api_key.created") < types.indexOf("webhook.test"), types.join(", "));
    await shot("webhooks");
    await axe("webhooks with deliveries");

    // Retry sends the same delivery again now: the same webhook-id, a second attempt.
    const before = receiver.requests.filter((r) => r.headers["webhook-id"] === id).length;
    await delivery.getByRole("button", { name: `Retry api_key.created delivery ${id}` }).click();
    await page.getByRole("status").filter({ hasText: `api_key.created was sent again to ${hookUrl}: succeeded` }).waitFor();
    await delivery.locator("td.attempts li").nth(1).waitFor();
    assert.equal(await delivery.locator("td.attempts li").count(), 2, "two attempts, oldest first");
    const again = receiver.requests.filter((r) => r.headers["webhook-id"] === id);
    assert.equal(again.length, before + 1, "one more request with the same webhook-id");
    assert.ok(signedWith(again.at(-1), secrets.first), "the retry is signed too");
    assert.deepEqual(again.at(-1).json.data, request.json.data, "the same event");
    const focused = await page.evaluate(() => document.activeElement.getAttribute("aria-label") || "");
    assert.ok(focused.startsWith("Retry api_key.created"), `focus stays on the delivery's Retry: ${focused}`);
  });

  it("rotates the signing secret: the new one is shown once, and for 24 hours deliveries carry both signatures", async () => {
    await page.getByRole("button", { name: `Rotate secret of ${hookUrl}` }).click();
    let dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: "Rotate the signing secret?" }).waitFor();
    await dialog.getByText(/keeps signing for 24 hours/).waitFor();
    await shot("webhook-rotate-confirm");
    await axe("webhook rotate confirmation");
    await dialog.getByRole("button", { name: "Rotate secret", exact: true }).click();
    dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: "Save the new signing secret" }).waitFor();
    await dialog.getByText(/The old secret keeps signing for 24 hours until .*UTC/).waitFor();
    secrets.rotated = await dialog.getByLabel("Signing secret", { exact: true }).inputValue();
    assert.ok(SECRET_SHAPE.test(secrets.rotated) && secrets.rotated !== secrets.first, "a new secret");
    await shot("webhook-rotated");
    await axe("webhook new secret dialog");
    await closeSecretDialog();

    const count = hooksOf("webhook.test").length;
    await page.getByRole("button", { name: `Send test to ${hookUrl}` }).click();
    await page.getByRole("status").filter({ hasText: `Test event sent to ${hookUrl}: succeeded` }).waitFor();
    const tests = hooksOf("webhook.test");
    assert.equal(tests.length, count + 1);
    const request = tests.at(-1);
    assertDeliveryShape(request, "webhook.test");
    assert.equal(request.headers["webhook-signature"].split(" ").length, 2, "two signatures during the overlap");
    assert.ok(signedWith(request, secrets.rotated), "one verifies with the new secret");
    assert.ok(signedWith(request, secrets.first), "one verifies with the old secret");
    await deliveryRow(request.headers["webhook-id"]).filter({ hasText: "Succeeded" }).waitFor();
  });

  it("edits an endpoint's events, disables and enables it, and deletes it after a confirmation", async () => {
    await page.getByRole("button", { name: `Edit ${hookUrl}` }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("heading", { name: "Edit endpoint" }).waitFor();
    assert.equal(await dialog.getByLabel("Endpoint URL", { exact: true }).inputValue(), hookUrl);
    assert.equal(await dialog.getByLabel("Description", { exact: true }).inputValue(), "Console test receiver");
    for (const type of ["api_key.updated", "api_key.rotated", "api_key.leak_reported", "api_key.expiring"]) {
      await dialog.getByRole("checkbox", { name: type }).setChecked(false);
    }
    assert.equal(await dialog.getByRole("checkbox", { name: "api_key.created" }).isChecked(), true);
    assert.equal(await dialog.getByRole("checkbox", { name: "api_key.deactivated" }).isChecked(), true);
    await shot("webhook-edit");
    await axe("webhook edit dialog");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("status").filter({ hasText: `${hookUrl} was updated.` }).waitFor();
    const events = endpointRow().locator("td.events");
    await events.filter({ hasText: "api_key.deactivated" }).waitFor();
    assert.deepEqual((await events.locator("code").allInnerTexts()).sort(), ["api_key.created", "api_key.deactivated"]);
    const refocused = await page.waitForFunction(
      (label) => document.activeElement.getAttribute("aria-label") === label, `Edit ${hookUrl}`, { timeout: 2000 },
    ).then(() => true, () => false);
    assert.ok(refocused, "focus is back on the endpoint's Edit button");

    await page.getByRole("button", { name: `Disable ${hookUrl}` }).click();
    await page.getByRole("status").filter({ hasText: `${hookUrl} was disabled.` }).waitFor();
    await endpointRow().filter({ hasText: "Disabled" }).waitFor();
    assert.equal(await endpointRow().getAttribute("data-status"), "disabled");
    await endpointRow().getByText("by you").waitFor(); // disabled_reason "manual"
    await shot("webhook-disabled");
    await axe("webhooks, an endpoint disabled");
    await page.getByRole("button", { name: `Enable ${hookUrl}` }).click();
    await page.getByRole("status").filter({ hasText: `${hookUrl} was enabled.` }).waitFor();
    await endpointRow().filter({ hasText: "Enabled" }).waitFor();
    assert.equal(await endpointRow().getByText("by you").count(), 0);
    await page.getByRole("button", { name: `Disable ${hookUrl}` }).click();
    await endpointRow().filter({ hasText: "Disabled" }).waitFor();

    await page.getByRole("button", { name: `Delete ${hookUrl}` }).click();
    const confirm = page.getByRole("dialog");
    await confirm.getByRole("heading", { name: "Delete this endpoint?" }).waitFor();
    await confirm.getByText(hookUrl).waitFor();
    await shot("webhook-delete-confirm");
    await axe("webhook delete confirmation");
    await confirm.getByRole("button", { name: "Delete", exact: true }).click();
    await confirm.waitFor({ state: "hidden" });
    await page.getByRole("status").filter({ hasText: `The endpoint ${hookUrl} was deleted.` }).waitFor();
    await page.getByText("No endpoints yet").waitFor();
    assert.equal(await page.locator("#deliveries-card").isHidden(), true, "no deliveries without an endpoint");
  });

  it("lists the endpoint's changes in the audit trail", async () => {
    await gotoPage("API keys", "API keys");
    const events = page.locator("#audit-body tr");
    await events.filter({ hasText: "Webhook endpoint deleted" }).waitFor();
    const types = await events.evaluateAll((rows) => rows.map((r) => r.dataset.eventType));
    // Newest first; the PATCHes (events, disable, enable, disable) are webhook.updated.
    const mine = types.filter((t) => t.startsWith("webhook.") || t === "api_key.created");
    assert.deepEqual(mine.slice(0, 8), [
      "webhook.deleted", "webhook.updated", "webhook.updated", "webhook.updated", "webhook.updated",
      "webhook.secret_rotated", "api_key.created", "webhook.created",
    ]);
    // An edit names the fields it changed; a deleted endpoint is still named by its URL.
    const texts = await events.allInnerTexts();
    const deleted = texts[types.indexOf("webhook.deleted")];
    assert.ok(deleted.includes("Webhook endpoint deleted") && deleted.includes(hookUrl), deleted);
    const edits = texts.filter((_, i) => types[i] === "webhook.updated");
    assert.match(edits.at(-1), /Webhook endpoint edited \(events\)/, "the oldest edit changed the events");
    assert.match(edits[0], /Webhook endpoint edited \(enabled\)/);
    await shot("audit-webhooks");
    await axe("audit trail with webhook events");
  });

  it("ends the session on a 401 and returns to login with a message", async () => {
    await page.evaluate(() => {
      const key = Object.keys(sessionStorage)[0];
      const saved = JSON.parse(sessionStorage.getItem(key));
      saved.token = "not-a-valid-token";
      sessionStorage.setItem(key, JSON.stringify(saved));
    });
    await page.reload();
    await page.getByRole("heading", { name: "Log in to your workspace" }).waitFor();
    await page.getByRole("status").filter({ hasText: "Your session has ended" }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await shot("session-ended");
  });

  it("shows a wrong password in words, logs in, and signs out", async () => {
    await field("login-screen", "Email").fill(EMAIL);
    await field("login-screen", "Password").fill("wrong password, certainly");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").filter({ hasText: "Invalid email or password (invalid_credentials)" }).waitFor();
    await shot("login-error");
    await axe("login error");

    await field("login-screen", "Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await row("Reader").waitFor();
    assert.equal(await page.locator("#keys-body tr").count(), 6); // Hooked, from the webhook tests, included
    // The failed and the successful login are in the trail.
    await page.locator("#audit-body tr").filter({ hasText: "Logged in" }).first().waitFor();
    const recent = await page.locator("#audit-body tr").evaluateAll((rows) => rows.slice(0, 2).map((r) => r.dataset.eventType));
    assert.deepEqual(recent, ["user.login_succeeded", "user.login_failed"]);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("status").filter({ hasText: "You have signed out." }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  it("loaded nothing from elsewhere and logged no error", () => {
    assert.deepEqual(foreignRequests, []);
    // The deliberate wrong-password and bad-token answers are logged by the browser as failed
    // requests (401); anything else is a defect.
    const unexpected = pageErrors.filter((e) => !/status of 40[013]/.test(e));
    assert.deepEqual(unexpected, []);
  });
});
