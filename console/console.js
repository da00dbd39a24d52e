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
  showPage();
}

function endSession(message) {
  session = null;
  clearTimeout(expiryTimer);
  sessionStorage.removeItem(SESSION_KEY);
  closeSecret();
  if ($("confirm-dialog").open) $("confirm-dialog").close();
  if ($("rotate-dialog").open) $("rotate-dialog").close();
  if ($("edit-dialog").open) $("edit-dialog").close();
  if ($("webhook-edit-dialog").open) $("webhook-edit-dialog").close();
  $("keys-body").replaceChildren();
  $("audit-body").replaceChildren();
  forgetWebhooks();
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
  for (const screen of ["login-screen", "signup-screen", "keys-screen", "webhooks-screen"]) $(screen).hidden = screen !== id;
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
  $("nav").hidden = true;
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

// The signed-in pages, by the address's fragment: "#webhooks", else the keys ("#keys").
const PAGES = {
  keys: { screen: "keys-screen", title: "API keys", link: "nav-keys" },
  webhooks: { screen: "webhooks-screen", title: "Webhooks", link: "nav-webhooks" },
};

function currentPage() {
  return location.hash === "#webhooks" ? "webhooks" : "keys";
}

function enterConsole(page) {
  notice("");
  $("who-workspace").textContent = session.workspace;
  $("who-email").textContent = session.email;
  $("who").hidden = false;
  $("nav").hidden = false;
  for (const [name, { link }] of Object.entries(PAGES)) {
    if (name === page) $(link).setAttribute("aria-current", "page");
    else $(link).removeAttribute("aria-current");
  }
  showOnly(PAGES[page].screen);
  document.title = `${PAGES[page].title} - YeboLink Keys console`;
  clearTimeout(expiryTimer);
  // setTimeout's delay is a 32-bit number of milliseconds.
  expiryTimer = setTimeout(() => endSession("Your session has expired. Log in again."),
    Math.min(session.expiresAt - Date.now(), 2 ** 31 - 1));
}

function showPage() {
  if (currentPage() === "webhooks") showWebhooks();
  else showKeys();
}

function showKeys() {
  enterConsole("keys");
  $("key-name").focus();
  refreshKeys();
  refreshAudit();
}

function showWebhooks() {
  enterConsole("webhooks");
  $("webhook-url").focus();
  refreshWebhooks();
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
let secret = null; // the new key or signing secret, only while its dialog is open
let secretNoun = "key";

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

// A new API key (`data` as POST /api-keys answers it), or with `shown` any other secret that
// is shown once (a webhook's signing secret).
function openSecret(data, shown) {
  const what = shown || {
    value: data.key,
    title: `Save your new API key "${data.name}"`,
    warning: data.warning || DOCUMENTED_WARNING,
    once: "The full key is only shown once. If you lose it, you will need to create a new one.",
    label: "API key",
    noun: "key",
  };
  secret = what.value;
  secretNoun = what.noun;
  $("secret-title").textContent = what.title;
  $("secret-warning").textContent = what.warning;
  $("secret-once").textContent = what.once;
  $("secret-note").textContent = what.note || "";
  $("secret-note").hidden = !what.note;
  $("secret-label").textContent = what.label;
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
    $("secret-copied").textContent = `Could not copy automatically: the ${secretNoun} is selected, press Ctrl+C (Cmd+C).`;
  }
}

// ------------------------------------------------------------------ confirmations, deactivate
// One confirmation dialog for every action that needs one: `run` does the action and returns
// once it is done (the dialog then closes); if it throws, the error stays in the dialog.
let pending = null;

function confirmAction({ title, text, ok, danger = true, opener, run }) {
  pending = { opener, run };
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  $("confirm-ok").className = danger ? "danger" : "primary";
  showError("confirm-error", null);
  $("confirm-dialog").showModal();
  $("confirm-cancel").focus();
}

function confirmDeactivate(key, opener) {
  confirmAction({
    title: `Deactivate "${key.name}"?`,
    text: `Programs using ${key.name} (${key.key_prefix}) will be refused from their next request. A deactivated key cannot be reactivated.`,
    ok: "Deactivate",
    opener,
    run: async (close) => {
      await authed("DELETE", `api-keys/${encodeURIComponent(key.id)}`);
      close();
      notice(`${key.name} was deactivated.`);
      refreshAudit();
      await refreshKeys();
      $("refresh").focus();
    },
  });
}

async function onConfirm() {
  if (!pending) return;
  const { run } = pending;
  const ok = $("confirm-ok");
  ok.disabled = true;
  try {
    // `close` forgets the opener first: the action moves the focus itself.
    await run(() => {
      pending = null;
      $("confirm-dialog").close();
    });
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
  "api_key.expiring": "Key expiring soon (reminder sent)",
  "webhook.created": "Webhook endpoint added",
  "webhook.updated": "Webhook endpoint edited",
  "webhook.deleted": "Webhook endpoint deleted",
  "webhook.secret_rotated": "Webhook secret rotated",
  "webhook.disabled": "Webhook endpoint disabled",
};

// Endpoint URLs by id, as seen in the endpoint list and in events that carry one (webhook.created,
// webhook.disabled): a deleted endpoint's events still name it when its URL was seen.
const webhookUrls = new Map();

// Who or what an event is about: a key by its prefix, an endpoint by its URL when known,
// otherwise by the start of its id.
function eventTarget(event) {
  const target = event.target || {};
  if (target.type === "api_key") return el("code", { textContent: target.key_prefix });
  if (target.type === "webhook") {
    const url = webhookUrls.get(target.id);
    return url
      ? el("code", { className: "url", textContent: url })
      : el("span", { textContent: `endpoint ${String(target.id || "").slice(0, 8)}` });
  }
  return el("span", { className: "muted", textContent: "you" });
}

function eventActor(actor) {
  if (actor.type === "leak_report") return `secret scanning (${actor.source})`;
  if (actor.type === "system") return "YeboLink";
  return "you";
}
let auditCursor = null;
let auditing = 0;

function eventRow(event) {
  const target = eventTarget(event);
  const actor = eventActor(event.actor || {});
  let what = EVENT_TEXT[event.type] || event.type;
  // The fields an edit changed: {field: {old, new}} for a key, [field...] for an endpoint.
  const details = event.details || {};
  const changes = event.type === "api_key.updated" ? details.changes : event.type === "webhook.updated" ? details.changed : null;
  if (changes && typeof changes === "object") {
    const fields = Array.isArray(changes) ? changes : Object.keys(changes);
    if (fields.length) what += ` (${fields.join(", ")})`;
  }
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
    for (const event of data.events || []) {
      const url = event.details && event.details.url;
      if (event.target && event.target.type === "webhook" && typeof url === "string") webhookUrls.set(event.target.id, url);
    }
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

// ------------------------------------------------------------------ webhooks
// The event types an endpoint can subscribe to (all of them by default), and what each means.
// webhook.test and webhook.disabled are always sent and cannot be chosen.
const WEBHOOK_EVENTS = [
  ["api_key.created", "a key was created"],
  ["api_key.updated", "a key was edited"],
  ["api_key.rotated", "a key was rotated"],
  ["api_key.deactivated", "a key was deactivated"],
  ["api_key.leak_reported", "a key was reported leaked and deactivated"],
  ["api_key.expiring", "a key expires in 7 days, and again in 1 day"],
];
const KEY_EVENTS = WEBHOOK_EVENTS.map(([type]) => type);
const DISABLED_TEXT = {
  manual: "by you",
  gone: "the endpoint answered 410 Gone",
  failing: "every delivery failed for 5 days",
};
const DELIVERY_TEXT = { pending: "Pending", succeeded: "Succeeded", failed: "Failed" };
const DELIVERY_BADGE = { pending: "unused", succeeded: "active", failed: "expired" };
const SECRET_WARNING = "Save this signing secret securely. It will not be shown again.";
const clock = new Intl.DateTimeFormat("en", {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone: "UTC", timeZoneName: "short",
});

let hooks = []; // the endpoints as last listed
let selected = null; // the id of the endpoint whose deliveries are shown
let deliveriesOf = null; // the endpoint the delivery rows on the page belong to
let deliveriesCursor = null;
let hooksListing = 0;
let deliveriesListing = 0;

function eventChecks(fieldset, name) {
  fieldset.append(...WEBHOOK_EVENTS.map(([type, meaning]) => {
    const box = el("input", { type: "checkbox", name, value: type, defaultChecked: true, checked: true });
    return el("label", { className: "check" }, box, " ", el("code", { textContent: type }), " ",
      el("span", { className: "muted", textContent: meaning }));
  }));
}

function checkedEvents(fieldset, name) {
  return [...fieldset.querySelectorAll(`input[name="${name}"]:checked`)].map((c) => c.value);
}

function webhookPath(hook, rest = "") {
  return `webhooks/${encodeURIComponent(hook.id)}${rest}`;
}

function webhookSecret(value, title, note) {
  return {
    value,
    title,
    warning: SECRET_WARNING,
    once: "The secret is only shown once. If you lose it, rotate the secret to get a new one.",
    note,
    label: "Signing secret",
    noun: "secret",
  };
}

// One attempt in words: "HTTP 200, 12 ms", "HTTP 500: upstream down, 8 ms", "timed out, 10,000 ms".
function attemptText(attempt) {
  const parts = [];
  const answer = typeof attempt.status_code === "number" ? `HTTP ${attempt.status_code}` : "";
  if (answer && attempt.error) parts.push(`${answer}: ${attempt.error}`);
  else parts.push(answer || attempt.error || "no answer");
  if (typeof attempt.duration_ms === "number") parts.push(`${whole.format(attempt.duration_ms)} ms`);
  return parts.join(", ");
}

function outcome(delivery) {
  const status = (DELIVERY_TEXT[delivery.status] || String(delivery.status)).toLowerCase();
  const last = (delivery.attempts || []).at(-1);
  return last ? `${status} (${attemptText(last)})` : status;
}

function eventsCell(events) {
  const list = events || [];
  const cell = el("td", { className: "events" });
  const all = KEY_EVENTS.every((type) => list.includes(type));
  if (all) cell.append(el("span", { className: "all", title: KEY_EVENTS.join("\n"), textContent: "All key events" }));
  for (const type of list) {
    if (!all || !KEY_EVENTS.includes(type)) cell.append(el("code", { textContent: type }));
  }
  return cell;
}

function endpointRow(hook) {
  const enabled = hook.status !== "disabled";
  const endpoint = el("td", { className: "endpoint" }, el("code", { className: "url", textContent: hook.url }));
  if (hook.description) endpoint.append(el("span", { className: "description muted", textContent: hook.description }));
  const status = el("td", { className: "status" }, el("span", {
    className: `badge ${enabled ? "active" : "inactive"}`,
    textContent: enabled ? "Enabled" : "Disabled",
  }));
  if (!enabled && hook.disabled_reason) {
    status.append(el("span", { className: "reason muted", textContent: DISABLED_TEXT[hook.disabled_reason] || hook.disabled_reason }));
  }
  const buttons = el("div", { className: "row-actions hook-actions" });
  const add = (action, text, label, onClick, className = "small") => {
    const button = el("button", { type: "button", className, textContent: text });
    button.dataset.action = action;
    button.setAttribute("aria-label", `${label} ${hook.url}`);
    button.addEventListener("click", () => onClick(hook, button));
    buttons.append(button);
    return button;
  };
  add("deliveries", "Deliveries", "Deliveries of", (h) => selectEndpoint(h.id))
    .setAttribute("aria-pressed", String(selected === hook.id));
  add("test", "Send test", "Send test to", sendTest);
  add("rotate", "Rotate secret", "Rotate secret of", confirmRotateSecret);
  add("toggle", enabled ? "Disable" : "Enable", enabled ? "Disable" : "Enable", toggleEnabled);
  add("edit", "Edit", "Edit", openWebhookEdit);
  add("delete", "Delete", "Delete", confirmDeleteWebhook, "danger small");
  const row = el("tr", {},
    endpoint,
    eventsCell(hook.events),
    status,
    el("td", {}, hook.created_at ? timeCell(hook.created_at, (d) => day.format(d)) : ""),
    el("td", { className: "actions-cell" }, buttons));
  row.dataset.webhookId = hook.id;
  row.dataset.status = hook.status;
  row.classList.toggle("inactive", !enabled);
  row.classList.toggle("selected", selected === hook.id);
  return row;
}

function hookRow(id) {
  return [...$("webhooks-body").rows].find((tr) => tr.dataset.webhookId === id);
}

// After the rows were rebuilt, focus goes back to the same button of the same endpoint.
function refocus(id, action) {
  const row = hookRow(id);
  const button = row && row.querySelector(`button[data-action="${action}"]`);
  (button || $("webhooks-refresh")).focus();
}

async function refreshWebhooks() {
  const mine = ++hooksListing;
  showError("webhooks-error", null);
  $("webhooks-refresh").disabled = true;
  try {
    const data = await authed("GET", "webhooks");
    if (mine !== hooksListing || !session) return; // a newer refresh or a sign-out won
    hooks = data.webhooks || [];
    for (const hook of hooks) webhookUrls.set(hook.id, hook.url);
    if (!hooks.some((h) => h.id === selected)) selected = hooks.length ? hooks[0].id : null;
    $("webhooks-body").replaceChildren(...hooks.map(endpointRow));
    $("webhooks-table").hidden = hooks.length === 0;
    $("webhooks-empty").hidden = hooks.length !== 0;
    await refreshDeliveries();
  } catch (err) {
    if (session) showError("webhooks-error", err);
  } finally {
    $("webhooks-refresh").disabled = false;
  }
}

function selectEndpoint(id) {
  selected = id;
  for (const row of $("webhooks-body").rows) {
    const mine = row.dataset.webhookId === id;
    row.classList.toggle("selected", mine);
    const button = row.querySelector('button[data-action="deliveries"]');
    if (button) button.setAttribute("aria-pressed", String(mine));
  }
  return refreshDeliveries();
}

// A row-level action whose error goes above the list.
async function rowAction(button, work) {
  button.disabled = true;
  showError("webhooks-error", null);
  try {
    await work();
  } catch (err) {
    if (session) showError("webhooks-error", err);
  } finally {
    button.disabled = false;
    // A disabled button loses the focus: give it back unless the rows were rebuilt meanwhile.
    if (button.isConnected && document.activeElement === document.body) button.focus();
  }
}

function sendTest(hook, button) {
  return rowAction(button, async () => {
    // The first attempt happens inside the request: the answer says how it went.
    const delivery = await authed("POST", webhookPath(hook, "/test"));
    notice(`Test event sent to ${hook.url}: ${outcome(delivery)}.`);
    await selectEndpoint(hook.id);
  });
}

function toggleEnabled(hook, button) {
  const enable = hook.status === "disabled";
  return rowAction(button, async () => {
    await authed("PATCH", webhookPath(hook), { enabled: enable });
    notice(`${hook.url} was ${enable ? "enabled" : "disabled"}.`);
    await refreshWebhooks();
    refocus(hook.id, "toggle");
  });
}

function confirmRotateSecret(hook, opener) {
  confirmAction({
    title: "Rotate the signing secret?",
    text: `A new secret replaces the one ${hook.url} verifies with. The old secret keeps signing for 24 hours: until then every delivery carries both signatures, so your receiver keeps working while you move it to the new secret.`,
    ok: "Rotate secret",
    danger: false,
    opener,
    run: async (close) => {
      const data = await authed("POST", webhookPath(hook, "/rotate-secret"));
      close();
      const until = data.previous_secret_expires_at
        ? ` until ${exact.format(new Date(data.previous_secret_expires_at))}`
        : "";
      openSecret(null, webhookSecret(data.secret, "Save the new signing secret",
        `The old secret keeps signing for 24 hours${until}: every delivery carries both signatures until then. Move your receiver to the new secret before that.`));
    },
  });
}

function confirmDeleteWebhook(hook, opener) {
  confirmAction({
    title: "Delete this endpoint?",
    text: `${hook.url} will get no more deliveries, retries included. This cannot be undone.`,
    ok: "Delete",
    opener,
    run: async (close) => {
      await authed("DELETE", webhookPath(hook));
      close();
      notice(`The endpoint ${hook.url} was deleted.`);
      if (selected === hook.id) selected = null;
      await refreshWebhooks();
      $("webhooks-refresh").focus();
    },
  });
}

async function onWebhookCreate(event) {
  event.preventDefault();
  const form = event.currentTarget;
  showError("webhook-create-error", null);
  const url = $("webhook-url").value.trim();
  const description = $("webhook-description").value.trim();
  const events = checkedEvents($("webhook-events"), "event");
  if (!url) {
    showError("webhook-create-error", new Error("Enter the endpoint's URL."));
    $("webhook-url").focus();
    return;
  }
  if (events.length === 0) {
    showError("webhook-create-error", new Error("Choose at least one event."));
    return;
  }
  await busy(form, async () => {
    try {
      const body = { url, events };
      if (description) body.description = description;
      const data = await authed("POST", "webhooks", body);
      form.reset(); // the next endpoint starts from the defaults again: every event
      selected = data.id;
      openSecret(null, webhookSecret(data.secret, "Save your webhook signing secret"));
      refreshWebhooks();
    } catch (err) {
      if (session) showError("webhook-create-error", err);
    }
  });
}

// ------------------------------------------------------------------ edit an endpoint
let editingHook = null;

function openWebhookEdit(hook, opener) {
  editingHook = { hook, opener };
  $("webhook-edit-text").textContent = `${hook.url}: changes apply from the next delivery; the signing secret stays the same.`;
  $("webhook-edit-url").value = hook.url;
  $("webhook-edit-description").value = hook.description || "";
  for (const box of $("webhook-edit-events").querySelectorAll('input[name="edit-event"]')) {
    box.checked = (hook.events || []).includes(box.value);
  }
  showError("webhook-edit-error", null);
  $("webhook-edit-dialog").showModal();
  $("webhook-edit-url").focus();
}

// Only what changed; an emptied description is null (cleared).
function webhookChanges(hook) {
  const changes = {};
  const url = $("webhook-edit-url").value.trim();
  if (!url) throw new FieldError("webhook-edit-url", "Enter the endpoint's URL.");
  if (url !== hook.url) changes.url = url;
  const description = $("webhook-edit-description").value.trim();
  if (description !== (hook.description || "")) changes.description = description || null;
  const chosen = checkedEvents($("webhook-edit-events"), "edit-event");
  if (chosen.length === 0) throw new Error("Choose at least one event.");
  // Types this page does not offer (added later) stay subscribed.
  const events = [...chosen, ...(hook.events || []).filter((type) => !KEY_EVENTS.includes(type))];
  if (canonical([...events].sort()) !== canonical([...(hook.events || [])].sort())) changes.events = events;
  return changes;
}

async function onWebhookEditSave(event) {
  event.preventDefault();
  if (!editingHook) return;
  const { hook } = editingHook;
  showError("webhook-edit-error", null);
  let changes;
  try {
    changes = webhookChanges(hook);
  } catch (err) {
    showFieldError("webhook-edit-error", err);
    return;
  }
  if (Object.keys(changes).length === 0) {
    $("webhook-edit-dialog").close();
    notice(`Nothing changed on ${hook.url}.`);
    return;
  }
  await busy($("webhook-edit-form"), async () => {
    try {
      const data = await authed("PATCH", webhookPath(hook), changes);
      editingHook = null;
      $("webhook-edit-dialog").close();
      notice(`${(data && data.url) || hook.url} was updated.`);
      await refreshWebhooks();
      refocus(hook.id, "edit");
    } catch (err) {
      if (session) showError("webhook-edit-error", err);
    }
  });
}

// ------------------------------------------------------------------ deliveries
function attemptItem(attempt) {
  const ok = typeof attempt.status_code === "number" && attempt.status_code >= 200 && attempt.status_code < 300;
  const item = el("li", { className: ok ? "ok" : "failed" });
  if (attempt.at) item.append(timeCell(attempt.at, (d) => clock.format(d)), " ");
  item.append(el("span", { className: "outcome", textContent: attemptText(attempt) }));
  return item;
}

function deliveryRow(hook, delivery) {
  const attempts = delivery.attempts || [];
  const retry = el("button", { type: "button", className: "small", textContent: "Retry" });
  retry.dataset.action = "retry";
  retry.setAttribute("aria-label", `Retry ${delivery.event_type} delivery ${delivery.id}`);
  retry.addEventListener("click", () => retryDelivery(hook, delivery, retry));
  const created = delivery.created_at || (attempts[0] && attempts[0].at);
  const row = el("tr", {},
    el("td", { className: "created" }, created ? timeCell(created, (d) => exact.format(d)) : ""),
    el("td", { className: "event" }, el("code", { textContent: delivery.event_type }),
      el("code", { className: "delivery-id muted", title: "webhook-id", textContent: delivery.id })),
    el("td", { className: "status" }, el("span", {
      className: `badge ${DELIVERY_BADGE[delivery.status] || "inactive"}`,
      textContent: DELIVERY_TEXT[delivery.status] || delivery.status,
    })),
    el("td", { className: "attempts" }, attempts.length
      ? el("ol", {}, ...attempts.map(attemptItem))
      : el("span", { className: "muted", textContent: "none yet" })),
    delivery.next_attempt_at
      ? el("td", { className: "next" }, timeCell(delivery.next_attempt_at, (d) => (d > new Date() ? ago(d) : "due now")))
      : el("td", { className: "next muted", textContent: "-" }),
    el("td", { className: "actions-cell" }, retry));
  row.dataset.deliveryId = delivery.id;
  row.dataset.eventType = delivery.event_type;
  row.dataset.status = delivery.status;
  return row;
}

async function refreshDeliveries(more = false) {
  const mine = ++deliveriesListing;
  const hook = hooks.find((h) => h.id === selected);
  showError("deliveries-error", null);
  $("deliveries-card").hidden = !hook;
  if (!hook) {
    deliveriesOf = null;
    deliveriesCursor = null;
    $("deliveries-body").replaceChildren();
    return;
  }
  $("deliveries-for").replaceChildren("To ", el("code", { className: "url", textContent: hook.url }));
  if (deliveriesOf !== hook.id) {
    // Another endpoint's rows never stand under this one's URL, not even while loading.
    deliveriesOf = hook.id;
    deliveriesCursor = null;
    $("deliveries-body").replaceChildren();
    $("deliveries-table").hidden = true;
    $("deliveries-empty").hidden = true;
    $("deliveries-more").hidden = true;
    more = false;
  }
  const query = new URLSearchParams({ limit: "20" });
  if (more && deliveriesCursor) query.set("cursor", deliveriesCursor);
  $("deliveries-refresh").disabled = true;
  try {
    const data = await authed("GET", `${webhookPath(hook, "/deliveries")}?${query}`);
    if (mine !== deliveriesListing || !session || deliveriesOf !== hook.id) return;
    const rows = (data.deliveries || []).map((delivery) => deliveryRow(hook, delivery));
    if (more) $("deliveries-body").append(...rows);
    else $("deliveries-body").replaceChildren(...rows);
    deliveriesCursor = data.next_cursor || null;
    const count = $("deliveries-body").children.length;
    $("deliveries-table").hidden = count === 0;
    $("deliveries-empty").hidden = count !== 0;
    $("deliveries-more").hidden = !deliveriesCursor;
  } catch (err) {
    if (session && mine === deliveriesListing) showError("deliveries-error", err);
  } finally {
    $("deliveries-refresh").disabled = false;
  }
}

async function retryDelivery(hook, delivery, button) {
  button.disabled = true;
  showError("deliveries-error", null);
  try {
    // The new attempt happens inside the request: the answer is the delivery after it.
    const updated = await authed("POST", webhookPath(hook, `/deliveries/${encodeURIComponent(delivery.id)}/retry`));
    notice(`${delivery.event_type} was sent again to ${hook.url}: ${outcome(updated)}.`);
    const row = [...$("deliveries-body").rows].find((tr) => tr.dataset.deliveryId === delivery.id);
    if (row && updated && updated.id) {
      const fresh = deliveryRow(hook, updated);
      row.replaceWith(fresh);
      fresh.querySelector("button").focus();
    }
  } catch (err) {
    if (session) showError("deliveries-error", err);
  } finally {
    button.disabled = false;
    if (button.isConnected && document.activeElement === document.body) button.focus();
  }
}

// A sign-out forgets every endpoint and delivery shown, and any answer still on its way.
function forgetWebhooks() {
  hooks = [];
  webhookUrls.clear();
  selected = null;
  deliveriesOf = null;
  deliveriesCursor = null;
  hooksListing += 1;
  deliveriesListing += 1;
  $("webhooks-body").replaceChildren();
  $("deliveries-body").replaceChildren();
  $("deliveries-card").hidden = true;
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
  eventChecks($("webhook-events"), "event");
  eventChecks($("webhook-edit-events"), "edit-event");
  $("webhook-form").addEventListener("submit", onWebhookCreate);
  $("webhooks-refresh").addEventListener("click", () => refreshWebhooks());
  $("deliveries-refresh").addEventListener("click", () => refreshDeliveries());
  $("deliveries-more").addEventListener("click", () => refreshDeliveries(true));
  $("webhook-edit-form").addEventListener("submit", onWebhookEditSave);
  $("webhook-edit-cancel").addEventListener("click", () => $("webhook-edit-dialog").close());
  $("webhook-edit-dialog").addEventListener("close", () => {
    const opener = editingHook && editingHook.opener;
    editingHook = null;
    if (opener && opener.isConnected) opener.focus();
  });
  // The navigation's links change the fragment: "#keys", "#webhooks".
  window.addEventListener("hashchange", () => {
    if (session) showPage();
  });

  session = loadSession();
  if (session) showPage();
  else if (location.hash === "#signup") showSignup();
}

start();
