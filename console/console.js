// YeboLink Keys console: one module, no dependencies. It talks to the API on its own origin
// with RELATIVE URLs ("api/v1/..."), so it works at "/" locally and under API Gateway's stage
// prefix ("/prod/") deployed. The DOM is built with textContent only, never from HTML strings.

const SESSION_KEY = "yebolink.console.session";
const UNUSED_AFTER_MS = 30 * 24 * 60 * 60 * 1000;
const DOCUMENTED_WARNING = "Save this key securely. It will not be shown again.";

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ session
// The JWT lives in this tab's sessionStorage (gone when the tab closes; never localStorage or
// a cookie) and in memory.
let session = null;
let expiryTimer = 0;

function loadSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (saved && typeof saved.token === "string" && saved.expiresAt > Date.now()) return saved;
  } catch {
    // An unreadable entry is no session.
  }
  sessionStorage.removeItem(SESSION_KEY);
  return null;
}

function startSession(data) {
  session = {
    token: data.token,
    expiresAt: Date.now() + Number(data.expires_in || 0) * 1000,
    workspace: data.workspace ? data.workspace.name : "",
    email: data.user ? data.user.email : "",
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  showKeys();
}

function endSession(message) {
  session = null;
  clearTimeout(expiryTimer);
  sessionStorage.removeItem(SESSION_KEY);
  closeSecret();
  if ($("confirm-dialog").open) $("confirm-dialog").close();
  if ($("rotate-dialog").open) $("rotate-dialog").close();
  if ($("edit-dialog").open) $("edit-dialog").close();
  $("keys-body").replaceChildren();
  $("audit-body").replaceChildren();
  showLogin(message);
}

// ------------------------------------------------------------------ API
class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Calls the API and returns the envelope's data, or throws an ApiFailure whose message is the
// envelope's (or says in words what went wrong when there is no envelope).
async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (session) headers.Authorization = `Bearer ${session.token}`;
  let response;
  try {
    response = await fetch(`api/v1/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiFailure(0, "network", "Could not reach the API. Check your connection and try again.");
  }
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    // Not JSON: handled below.
  }
  if (response.ok && envelope && envelope.success) return envelope.data;
  const error = envelope && envelope.error;
  if (error && typeof error.message === "string") {
    const retry = response.headers.get("Retry-After");
    const suffix = retry && !/retry after/i.test(error.message) ? ` Retry after ${retry} seconds.` : "";
    throw new ApiFailure(response.status, error.code, `${error.message}${suffix}`);
  }
  throw new ApiFailure(response.status, "http", `The API answered ${response.status} ${response.statusText || ""}`.trim() + ".");
}

// A call on a route that needs the session: a 401 ends it and returns to the login screen.
async function authed(method, path, body) {
  try {
    return await api(method, path, body);
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 401) {
      endSession(`Your session has ended (${err.message}). Log in again.`);
    }
    throw err;
  }
}

// ------------------------------------------------------------------ screens
function showOnly(id) {
  for (const screen of ["login-screen", "signup-screen", "keys-screen"]) $(screen).hidden = screen !== id;
}

function notice(message) {
  $("notice").textContent = message || "";
  $("notice").hidden = !message;
}

function showError(id, err) {
  const el = $(id);
  if (!err) {
    el.hidden = true;
    el.textContent = "";
    return;
  }
  el.textContent = err instanceof ApiFailure && err.code && !["network", "http"].includes(err.code)
    ? `${err.message} (${err.code})`
    : err.message || String(err);
  el.hidden = false;
}

function showLogin(message) {
  $("who").hidden = true;
  showOnly("login-screen");
  notice(message);
  document.title = "Log in - YeboLink Keys console";
  $("login-email").focus();
}

function showSignup() {
  notice("");
  showOnly("signup-screen");
  document.title = "Sign up - YeboLink Keys console";
  $("signup-workspace").focus();
}

function showKeys() {
  notice("");
  $("who-workspace").textContent = session.workspace;
  $("who-email").textContent = session.email;
  $("who").hidden = false;
  showOnly("keys-screen");
  document.title = "API keys - YeboLink Keys console";
  clearTimeout(expiryTimer);
  // setTimeout's delay is a 32-bit number of milliseconds.
  expiryTimer = setTimeout(() => endSession("Your session has expired. Log in again."),
    Math.min(session.expiresAt - Date.now(), 2 ** 31 - 1));
  $("key-name").focus();
  refreshKeys();
  refreshAudit();
}

// Disables a form's controls while its request runs, so a double click sends one request.
async function busy(form, work) {
  const controls = [...form.elements];
  controls.forEach((c) => { c.disabled = true; });
  form.setAttribute("aria-busy", "true");
  try {
    await work();
  } finally {
    controls.forEach((c) => { c.disabled = false; });
    form.removeAttribute("aria-busy");
  }
}

// ------------------------------------------------------------------ auth forms
async function onLogin(event) {
  event.preventDefault();
  const form = event.currentTarget;
  showError("login-error", null);
  const email = $("login-email").value.trim();
  const password = $("login-password").value;
  if (!email || !password) {
    showError("login-error", new Error("Enter your email and password."));
    return;
  }
  await busy(form, async () => {
    try {
      const data = await api("POST", "auth/login", { email, password });
      form.reset();
      startSession(data);
    } catch (err) {
      showError("login-error", err);
    }
  });
}

async function onSignup(event) {
  event.preventDefault();
  const form = event.currentTarget;
  showError("signup-error", null);
  const body = {
    workspace_name: $("signup-workspace").value.trim(),
    email: $("signup-email").value.trim(),
    password: $("signup-password").value,
  };
  if (!body.workspace_name || !body.email || !body.password) {
    showError("signup-error", new Error("Enter a workspace name, an email and a password."));
    return;
  }
  await busy(form, async () => {
    try {
      const data = await api("POST", "auth/register", body);
      form.reset();
      startSession(data);
    } catch (err) {
      showError("signup-error", err);
    }
  });
}

// ------------------------------------------------------------------ key list
const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const exact = new Intl.DateTimeFormat("en", {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  hourCycle: "h23", timeZone: "UTC", timeZoneName: "short",
});
const day = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeZone: "UTC" });

function ago(date) {
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  for (const [unit, size] of [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60]]) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return Math.abs(seconds) < 10 ? "just now" : relative.format(seconds, "second");
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

function timeCell(iso, text) {
  const date = new Date(iso);
  return el("time", { dateTime: iso, title: exact.format(date), textContent: text(date) });
}

const STATUS_TEXT = { active: "Active", expired: "Expired", deactivated: "Deactivated" };
const whole = new Intl.NumberFormat("en");

// The key's own labels under its name: the first few, all of them on hover.
function metadataTags(metadata) {
  const lines = Object.entries(metadata || {}).map(([k, v]) => `${k}=${v}`);
  if (lines.length === 0) return null;
  const shown = lines.slice(0, 3).map((line) => el("code", { textContent: line.length > 32 ? `${line.slice(0, 31)}\u2026` : line }));
  if (lines.length > 3) shown.push(el("span", { className: "muted", textContent: `+${lines.length - 3} more` }));
  return el("span", { className: "meta", title: lines.join("\n") }, ...shown);
}

// The limit in force per minute, the monthly send limit when set, and the address restriction.
function limitsCell(key) {
  const cell = el("td", { className: "limits" });
  if (typeof key.rate_limit_per_minute === "number") {
    cell.append(el("span", { className: "limit", textContent: `${whole.format(key.rate_limit_per_minute)}/min` }));
  }
  if (typeof key.monthly_send_limit === "number") {
    cell.append(el("span", { className: "limit", textContent: `${whole.format(key.monthly_send_limit)}/month` }));
  }
  const ips = key.allowed_ips || [];
  if (ips.length === 0) {
    cell.append(el("span", { className: "limit ips muted", textContent: "any address" }));
  } else if (ips.length === 1 || (ips.length === 2 && ips.join(", ").length <= 32)) {
    cell.append(el("span", { className: "limit ips" },
      ...ips.flatMap((ip, i) => (i ? [", ", el("code", { textContent: ip })] : [el("code", { textContent: ip })]))));
  } else {
    cell.append(el("span", { className: "limit ips", title: ips.join("\n"), textContent: `${ips.length} ranges` }));
  }
  return cell;
}

function keyRow(key, requests) {
  const lastUsed = key.last_used_at ? new Date(key.last_used_at) : null;
  const unused = key.is_active && !key.replaced_by && (!lastUsed || Date.now() - lastUsed.getTime() > UNUSED_AFTER_MS);

  const name = el("td", {}, el("span", { className: "name", textContent: key.name }));
  if (unused) {
    name.append(" ", el("span", {
      className: "badge unused",
      textContent: lastUsed ? "unused: not in 30 days" : "unused: never used",
    }));
  }
  const tags = metadataTags(key.metadata);
  if (tags) name.append(tags);
  const state = key.status || (key.is_active ? "active" : "deactivated");
  const status = el("td", {}, el("span", {
    className: `badge ${state === "active" ? "active" : state === "expired" ? "expired" : "inactive"}`,
    textContent: STATUS_TEXT[state] || state,
  }));
  if (key.replaced_by && state === "active") {
    status.append(" ", el("span", { className: "badge replaced", textContent: "replaced: until expiry" }));
  }
  const used = lastUsed ? timeCell(key.last_used_at, ago) : el("span", { className: "muted", textContent: "Never" });
  if (lastUsed && key.last_used_ip) used.title += ` from ${key.last_used_ip}`;
  const buttons = el("div", { className: "row-actions" });
  const actions = el("td", { className: "actions-cell" }, buttons);
  // Only an active key that was not rotated can be edited (the API answers 409 otherwise).
  if (state === "active" && !key.replaced_by) {
    const edit = el("button", { type: "button", className: "small edit", textContent: "Edit" });
    edit.setAttribute("aria-label", `Edit ${key.name} (${key.key_prefix})`);
    edit.addEventListener("click", () => openEdit(key, edit));
    buttons.append(edit);
    const rotate = el("button", { type: "button", className: "small", textContent: "Rotate" });
    rotate.setAttribute("aria-label", `Rotate ${key.name} (${key.key_prefix})`);
    rotate.addEventListener("click", () => confirmRotate(key, rotate));
    buttons.append(rotate);
  }
  // An expired key still holds one of the workspace's key slots until it is deactivated, and
  // a replaced key may need to stop before its overlap ends.
  if (state !== "deactivated") {
    const button = el("button", { type: "button", className: "danger small", textContent: "Deactivate" });
    button.setAttribute("aria-label", `Deactivate ${key.name} (${key.key_prefix})`);
    button.addEventListener("click", () => confirmDeactivate(key, button));
    buttons.append(button);
  }
  const row = el("tr", {},
    name,
    el("td", {}, el("code", { textContent: key.key_prefix })),
    el("td", {}, ...key.scopes.flatMap((s, i) => (i ? [" ", el("code", { textContent: s })] : [el("code", { textContent: s })]))),
    limitsCell(key),
    status,
    el("td", { className: "last-used" }, used),
    el("td", { className: "requests", textContent: requests === undefined ? "-" : String(requests) }),
    el("td", {}, timeCell(key.created_at, (d) => day.format(d))),
    key.expires_at
      ? el("td", { className: "expires" }, timeCell(key.expires_at, (d) => (d > new Date() ? ago(d) : day.format(d))))
      : el("td", { className: "expires muted", textContent: "Never" }),
    actions);
  row.dataset.keyId = key.id;
  if (state !== "active") row.className = "inactive";
  return row;
}

let listing = 0;
async function refreshKeys() {
  const mine = ++listing;
  showError("list-error", null);
  $("refresh").disabled = true;
  try {
    // Usage is a second, independent read: the list shows without it if it fails.
    const [data, usage] = await Promise.all([
      authed("GET", "api-keys"),
      authed("GET", "usage?granularity=hour").catch(() => null),
    ]);
    if (mine !== listing || !session) return; // a newer refresh or a sign-out won
    const keys = data.api_keys || [];
    const requests = new Map(((usage && usage.keys) || []).map((k) => [k.id, k.requests]));
    $("keys-body").replaceChildren(...keys.map((key) => keyRow(key, requests.get(key.id))));
    $("keys-table").hidden = keys.length === 0;
    $("list-empty").hidden = keys.length !== 0;
  } catch (err) {
    if (session) showError("list-error", err);
  } finally {
    $("refresh").disabled = false;
  }
}

// ------------------------------------------------------------------ per-key settings
// The four optional settings, in the create form (ids "key-...") and the Edit dialog
// ("edit-..."). Empty means unset: null here, omitted on create, null (clear) on edit.
const SETTINGS = ["rate_limit_per_minute", "allowed_ips", "metadata", "monthly_send_limit"];

// A problem with what was typed, shown before any request, with the field to focus.
class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

function wholeNumber(id, label) {
  const input = $(id);
  if (input.validity.badInput) throw new FieldError(id, `${label}: enter a whole number, or leave it empty.`);
  const text = input.value.trim();
  return text === "" ? null : Number(text);
}

// One address or CIDR block per line or comma-separated; the API validates and normalises them.
function parseAddresses(text) {
  const list = text.split(/[\s,]+/).filter(Boolean);
  return list.length ? list : null;
}

function addressesText(ips) {
  return (ips || []).join("\n");
}

// One key=value per line (the value may hold "=" and commas); blank lines are skipped.
function parseMetadata(id) {
  const entries = new Map();
  const lines = $(id).value.split("\n");
  for (const [i, line] of lines.entries()) {
    if (!line.trim()) continue;
    const eq = line.indexOf("=");
    if (eq < 0) throw new FieldError(id, `Metadata, line ${i + 1}: write key=value.`);
    const key = line.slice(0, eq).trim();
    if (entries.has(key)) throw new FieldError(id, `Metadata, line ${i + 1}: "${key}" is given twice.`);
    entries.set(key, line.slice(eq + 1).trim());
  }
  return entries.size ? Object.fromEntries(entries) : null;
}

function metadataText(metadata) {
  return Object.entries(metadata || {}).map(([k, v]) => `${k}=${v}`).join("\n");
}

// The four settings as typed. With `key`, a text area left exactly as prefilled keeps the key's
// value (a metadata value holding a line break would not survive a round trip through lines).
function readSettings(prefix, key) {
  const ips = $(`${prefix}-ips`).value;
  const metadata = $(`${prefix}-metadata`).value;
  return {
    rate_limit_per_minute: wholeNumber(`${prefix}-rate`, "Rate limit per minute"),
    allowed_ips: key && ips === addressesText(key.allowed_ips) ? key.allowed_ips ?? null : parseAddresses(ips),
    metadata: key && metadata === metadataText(key.metadata) ? key.metadata ?? null : parseMetadata(`${prefix}-metadata`),
    monthly_send_limit: wholeNumber(`${prefix}-monthly`, "Monthly send limit"),
  };
}

// A value in a form that compares equal however an object's entries are ordered.
function canonical(value) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    return JSON.stringify(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return JSON.stringify(value ?? null);
}

// Says on the closed disclosure how many settings it holds, so none is sent unseen.
function countAdvanced() {
  const filled = ["key-rate", "key-monthly", "key-ips", "key-metadata"].filter((id) => $(id).value.trim() !== "").length;
  $("advanced-count").textContent = filled ? `(${filled} set)` : "";
}

function showFieldError(errorId, err) {
  showError(errorId, err);
  if (err instanceof FieldError) $(err.field).focus();
}

// ------------------------------------------------------------------ create + show once
let secret = null; // the new key, only while its dialog is open

async function onCreate(event) {
  event.preventDefault();
  const form = event.currentTarget;
  showError("create-error", null);
  const name = $("key-name").value.trim();
  const scopes = [...form.querySelectorAll("input[name=scope]:checked")].map((c) => c.value);
  if (!name) {
    showError("create-error", new Error("Give the key a name (1 to 100 characters)."));
    $("key-name").focus();
    return;
  }
  if (scopes.length === 0) {
    showError("create-error", new Error("Choose at least one scope."));
    return;
  }
  let settings;
  try {
    settings = readSettings("key");
  } catch (err) {
    showFieldError("create-error", err);
    return;
  }
  await busy(form, async () => {
    try {
      const body = { name, scopes };
      const days = $("key-expiry").value;
      if (days !== "never") {
        body.expires_at = new Date(Date.now() + Number(days) * 86400000).toISOString().replace(/\.\d{3}Z$/, "Z");
      }
      // Only the settings that are filled in: an omitted one is the default (or none).
      for (const field of SETTINGS) if (settings[field] !== null) body[field] = settings[field];
      const data = await authed("POST", "api-keys", body);
      form.reset(); // the next key starts from the defaults again: no name, both scopes, no settings
      countAdvanced();
      openSecret(data);
      refreshKeys();
      refreshAudit();
    } catch (err) {
      if (session) showError("create-error", err);
    }
  });
}

function openSecret(data) {
  secret = data.key;
  $("secret-title").textContent = `Save your new API key "${data.name}"`;
  $("secret-warning").textContent = data.warning || DOCUMENTED_WARNING;
  $("secret-value").value = secret;
  $("secret-copied").textContent = "";
  $("secret-dialog").showModal();
  $("secret-value").select();
}

// Whatever closes the dialog (the button, Escape, a sign-out), the key leaves the page.
function closeSecret() {
  secret = null;
  $("secret-value").value = "";
  $("secret-value").defaultValue = "";
  $("secret-copied").textContent = "";
  if ($("secret-dialog").open) $("secret-dialog").close();
}

async function onCopy() {
  if (!secret) return;
  try {
    await navigator.clipboard.writeText(secret);
    $("secret-copied").textContent = "Copied to the clipboard.";
  } catch {
    // No clipboard permission: select the text so Ctrl+C copies it.
    $("secret-value").select();
    $("secret-copied").textContent = "Could not copy automatically: the key is selected, press Ctrl+C (Cmd+C).";
  }
}

// ------------------------------------------------------------------ deactivate
let pending = null;

function confirmDeactivate(key, opener) {
  pending = { key, opener };
  $("confirm-title").textContent = `Deactivate "${key.name}"?`;
  $("confirm-text").textContent = `Programs using ${key.name} (${key.key_prefix}) will be refused from their next request. A deactivated key cannot be reactivated.`;
  showError("confirm-error", null);
  $("confirm-dialog").showModal();
  $("confirm-cancel").focus();
}

async function onConfirm() {
  if (!pending) return;
  const { key } = pending;
  const ok = $("confirm-ok");
  ok.disabled = true;
  try {
    await authed("DELETE", `api-keys/${encodeURIComponent(key.id)}`);
    pending = null;
    $("confirm-dialog").close();
    notice(`${key.name} was deactivated.`);
    refreshAudit();
    await refreshKeys();
    $("refresh").focus();
  } catch (err) {
    if (session) showError("confirm-error", err);
  } finally {
    ok.disabled = false;
  }
}

// ------------------------------------------------------------------ rotate
let rotating = null;

function confirmRotate(key, opener) {
  rotating = { key, opener };
  $("rotate-title").textContent = `Rotate "${key.name}"?`;
  $("rotate-text").textContent = `A new key with the same name, scopes and settings replaces ${key.key_prefix}, and continues its count for the month. Move your programs to the new key while the old one still works.`;
  $("rotate-overlap").value = "86400";
  showError("rotate-error", null);
  $("rotate-dialog").showModal();
  $("rotate-overlap").focus();
}

async function onRotate() {
  if (!rotating) return;
  const { key } = rotating;
  const ok = $("rotate-ok");
  ok.disabled = true;
  try {
    const data = await authed("POST", `api-keys/${encodeURIComponent(key.id)}/rotate`,
      { overlap_seconds: Number($("rotate-overlap").value) });
    rotating = null;
    $("rotate-dialog").close();
    openSecret(data);
    refreshAudit();
    await refreshKeys();
  } catch (err) {
    if (session) showError("rotate-error", err);
  } finally {
    ok.disabled = false;
  }
}

// ------------------------------------------------------------------ edit
let editing = null;

function openEdit(key, opener) {
  editing = { key, opener };
  $("edit-title").textContent = `Edit "${key.name}"`;
  $("edit-text").textContent = `Changes to ${key.key_prefix} apply from its next request; the key itself stays the same.`;
  $("edit-name").value = key.name;
  for (const box of $("edit-form").querySelectorAll("input[name=edit-scope]")) box.checked = key.scopes.includes(box.value);
  $("edit-rate").value = typeof key.rate_limit_per_minute === "number" ? String(key.rate_limit_per_minute) : "";
  $("edit-monthly").value = typeof key.monthly_send_limit === "number" ? String(key.monthly_send_limit) : "";
  $("edit-ips").value = addressesText(key.allowed_ips);
  $("edit-metadata").value = metadataText(key.metadata);
  showError("edit-error", null);
  $("edit-dialog").showModal();
  $("edit-name").focus();
}

// Only what changed; an emptied setting is null (cleared, or the rate limit back to the default).
function editChanges(key) {
  const changes = {};
  const name = $("edit-name").value.trim();
  if (!name) throw new FieldError("edit-name", "Give the key a name (1 to 100 characters).");
  if (name !== key.name) changes.name = name;
  const scopes = [...$("edit-form").querySelectorAll("input[name=edit-scope]:checked")].map((c) => c.value);
  if (scopes.length === 0) throw new Error("Choose at least one scope.");
  if (canonical([...scopes].sort()) !== canonical([...key.scopes].sort())) changes.scopes = scopes;
  const settings = readSettings("edit", key);
  for (const field of SETTINGS) {
    if (canonical(settings[field]) !== canonical(key[field])) changes[field] = settings[field];
  }
  return changes;
}

async function onEditSave(event) {
  event.preventDefault();
  if (!editing) return;
  const { key } = editing;
  showError("edit-error", null);
  let changes;
  try {
    changes = editChanges(key);
  } catch (err) {
    showFieldError("edit-error", err);
    return;
  }
  if (Object.keys(changes).length === 0) {
    $("edit-dialog").close();
    notice(`Nothing changed on ${key.name}.`);
    return;
  }
  await busy($("edit-form"), async () => {
    try {
      const data = await authed("PATCH", `api-keys/${encodeURIComponent(key.id)}`, changes);
      editing = null;
      $("edit-dialog").close();
      notice(`${(data && data.name) || key.name} was updated.`);
      refreshAudit();
      await refreshKeys();
      // The rows were rebuilt: focus goes back to this key's new Edit button.
      const again = [...$("keys-body").querySelectorAll("tr")].find((tr) => tr.dataset.keyId === key.id);
      const button = again && again.querySelector("button.edit");
      (button || $("refresh")).focus();
    } catch (err) {
      if (session) showError("edit-error", err);
    }
  });
}

// ------------------------------------------------------------------ audit trail
const EVENT_TEXT = {
  "user.registered": "Workspace created",
  "user.login_succeeded": "Logged in",
  "user.login_failed": "Failed login",
  "api_key.created": "Key created",
  "api_key.rotated": "Key rotated",
  "api_key.updated": "Key edited",
  "api_key.deactivated": "Key deactivated",
  "api_key.leak_reported": "Key reported leaked (deactivated)",
};
let auditCursor = null;
let auditing = 0;

function eventRow(event) {
  const target = event.target.type === "api_key"
    ? el("code", { textContent: event.target.key_prefix })
    : el("span", { className: "muted", textContent: "you" });
  const actor = event.actor.type === "leak_report" ? `secret scanning (${event.actor.source})` : "you";
  let what = EVENT_TEXT[event.type] || event.type;
  const changes = event.type === "api_key.updated" && event.details && event.details.changes;
  if (changes && typeof changes === "object") what += ` (${Object.keys(changes).join(", ")})`;
  const row = el("tr", {},
    el("td", {}, timeCell(event.occurred_at, (d) => exact.format(d))),
    el("td", { textContent: what }),
    el("td", {}, target),
    el("td", { textContent: actor }),
    el("td", { className: "muted", textContent: event.source_ip || "" }));
  row.dataset.eventType = event.type;
  return row;
}

async function refreshAudit(more = false) {
  const mine = ++auditing;
  showError("audit-error", null);
  const query = new URLSearchParams({ limit: "20" });
  if (more && auditCursor) query.set("cursor", auditCursor);
  try {
    const data = await authed("GET", `audit-events?${query}`);
    if (mine !== auditing || !session) return;
    const rows = (data.events || []).map(eventRow);
    if (more) $("audit-body").append(...rows);
    else $("audit-body").replaceChildren(...rows);
    auditCursor = data.next_cursor;
    const count = $("audit-body").children.length;
    $("audit-table").hidden = count === 0;
    $("audit-empty").hidden = count !== 0;
    $("audit-more").hidden = !auditCursor;
  } catch (err) {
    if (session) showError("audit-error", err);
  }
}

// ------------------------------------------------------------------ wiring
function start() {
  $("login-form").addEventListener("submit", onLogin);
  $("signup-form").addEventListener("submit", onSignup);
  $("to-signup").addEventListener("click", showSignup);
  $("to-login").addEventListener("click", () => showLogin(""));
  $("sign-out").addEventListener("click", () => endSession("You have signed out."));
  $("create-form").addEventListener("submit", onCreate);
  $("advanced").addEventListener("input", countAdvanced);
  $("refresh").addEventListener("click", refreshKeys);
  $("secret-copy").addEventListener("click", onCopy);
  $("secret-done").addEventListener("click", closeSecret);
  $("secret-dialog").addEventListener("close", closeSecret);
  $("confirm-cancel").addEventListener("click", () => $("confirm-dialog").close());
  $("confirm-dialog").addEventListener("close", () => {
    const opener = pending && pending.opener;
    pending = null;
    if (opener && opener.isConnected) opener.focus();
  });
  $("confirm-ok").addEventListener("click", onConfirm);
  $("rotate-cancel").addEventListener("click", () => $("rotate-dialog").close());
  $("rotate-dialog").addEventListener("close", () => {
    const opener = rotating && rotating.opener;
    rotating = null;
    if (opener && opener.isConnected) opener.focus();
  });
  $("rotate-ok").addEventListener("click", onRotate);
  $("edit-form").addEventListener("submit", onEditSave);
  $("edit-cancel").addEventListener("click", () => $("edit-dialog").close());
  $("edit-dialog").addEventListener("close", () => {
    const opener = editing && editing.opener;
    editing = null;
    if (opener && opener.isConnected) opener.focus();
  });
  $("audit-refresh").addEventListener("click", () => refreshAudit());
  $("audit-more").addEventListener("click", () => refreshAudit(true));

  session = loadSession();
  if (session) showKeys();
  else if (location.hash === "#signup") showSignup();
}

start();
