// The reclaim page: choose files, hash them on this device, send only hashes.
// Every request goes to this site's own API (same origin, no cookies, no
// referrer); file bytes, names, sizes and dimensions never leave the page.
import { checkCaseNumber } from "./casenumber.js";
import { errorMessage } from "./errors.js";
import { setUpHelpLines } from "./help.js";
import { plural, t } from "./messages.js";
import { fileSummary, showPreview, previewBox } from "./files.js";
import { forgetAllLabels } from "./labels.js";
import { renderCase } from "./status.js";

const MIN_QUALITY = 50;
const PER_REQUEST = 500;

const $ = (id) => document.getElementById(id);
const state = {
  program: null,
  files: [], // {id, file, name, kind, status, hashes, include, element}
  nextId: 1,
  addTo: null, // {number, pin} when adding to an existing case
};

// ---- leaving quickly ------------------------------------------------------

function leave() {
  forgetAllLabels();
  document.body.replaceChildren();
  document.title = "";
  window.location.replace(document.body.dataset.leaveUrl || "https://www.wikipedia.org/");
}
$("leave").addEventListener("click", leave);
let escapes = [];
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const now = Date.now();
  escapes = escapes.filter((at) => now - at < 1500);
  escapes.push(now);
  if (escapes.length >= 3) leave();
});

// ---- steps ------------------------------------------------------------------

const steps = ["step-intro", "step-eligibility", "step-files", "step-done"];

function show(step) {
  for (const id of steps) $(id).hidden = id !== step;
  const heading = $(step).querySelector("h1");
  heading.focus();
}

function announce(text) {
  $("live").textContent = "";
  setTimeout(() => ($("live").textContent = text), 50);
}

$("start").addEventListener("click", () => show("step-eligibility"));

$("eligibility-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const chosen = new FormData(event.target).get("program");
  $("elig-error").hidden = Boolean(chosen);
  if (!chosen) {
    $("program-minor").focus();
    return;
  }
  state.program = chosen;
  state.addTo = null;
  show("step-files");
});

// ---- choosing and hashing files -------------------------------------------------

const worker = new Worker(new URL("./hash-worker.js", import.meta.url), { type: "module" });
const pending = new Map();

worker.onmessage = (event) => {
  const { id } = event.data;
  const entry = state.files.find((f) => f.id === id);
  if (!entry) return;
  if (event.data.type === "progress") {
    entry.progress.value = event.data.percent;
    entry.progress.hidden = false;
    return;
  }
  if (event.data.type === "result") {
    entry.hashes = event.data.hashes;
    if (event.data.preview) showPreview(entry.thumb, event.data.preview);
    if (event.data.kind === "image" && event.data.quality < MIN_QUALITY) {
      finish(entry, "bad", t("files.quality_low"));
      entry.hashes = [];
    } else if (event.data.partial) {
      // A video this browser could not decode: its MD5 alone, said plainly.
      finish(entry, "ready", t("files.video_exact_only"));
    } else {
      finish(entry, "ready", t("files.ready"));
    }
  } else {
    const reasons = {
      empty: t("files.empty"),
      damaged: t("files.damaged"),
      heic: t("files.heic_failed"),
      unsupported: t("files.unsupported"),
      unfit: t("files.quality_low"),
      unreadable: t("files.failed", { reason: t("files.unsupported") }),
    };
    finish(entry, "bad", reasons[event.data.code] || t("files.failed", { reason: event.data.message || "" }));
  }
  const resolve = pending.get(id);
  if (resolve) {
    pending.delete(id);
    resolve();
  }
};

function finish(entry, status, text) {
  entry.status = status;
  entry.state.textContent = text;
  entry.state.classList.toggle("bad", status === "bad");
  entry.progress.hidden = true;
  entry.checkbox.disabled = status !== "ready";
  entry.checkbox.checked = status === "ready" && entry.include;
  updateCount();
}

function updateCount() {
  $("file-count").textContent = fileSummary(state.files);
}

function addFiles(list) {
  for (const file of list) {
    const entry = {
      id: state.nextId++,
      file,
      name: file.name,
      status: "hashing",
      hashes: [],
      include: true,
    };
    const item = document.createElement("li");
    const isVideo = file.type.startsWith("video/");
    const thumb = previewBox(file, isVideo);
    const row = document.createElement("div");
    row.className = "row";
    const checkbox = document.createElement("input");
    checkbox.type = "checkbox";
    checkbox.id = `include-${entry.id}`;
    checkbox.checked = true;
    checkbox.disabled = true;
    const label = document.createElement("label");
    label.htmlFor = checkbox.id;
    label.className = "name";
    label.textContent = file.name;
    checkbox.addEventListener("change", () => {
      entry.include = checkbox.checked;
      updateCount();
    });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "✕";
    remove.setAttribute("aria-label", t("files.remove", { name: file.name }));
    remove.addEventListener("click", () => {
      state.files = state.files.filter((f) => f !== entry);
      item.remove();
      updateCount();
      $("file-input").focus();
    });
    row.append(checkbox, label, remove);
    const status = document.createElement("div");
    const stateText = document.createElement("span");
    stateText.className = "state";
    stateText.textContent = t("files.hashing");
    const progress = document.createElement("progress");
    progress.max = 100;
    progress.value = 0;
    progress.hidden = true;
    progress.setAttribute("aria-label", t("files.progress", { name: file.name, percent: 0 }));
    status.append(stateText, progress);
    item.append(thumb, row, status);
    $("file-list").append(item);
    Object.assign(entry, { element: item, thumb, checkbox, state: stateText, progress });
    state.files.push(entry);
    pending.set(entry.id, () => {});
    worker.postMessage({ id: entry.id, file });
  }
  updateCount();
}

$("file-input").addEventListener("change", (event) => {
  addFiles(event.target.files);
  event.target.value = "";
});
const drop = $("drop");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  addFiles(event.dataTransfer.files);
});
$("clear").addEventListener("click", () => {
  state.files = [];
  $("file-list").replaceChildren();
  updateCount();
});

// ---- talking to the registry (hashes only) --------------------------------------

// Every person's request is safe to send again: a lost answer (no network, or
// a registry restarting: 502-504) is retried a few times with backoff. A case
// creation carries an Idempotency-Key, so its retry gets the first answer (the
// same case number and PIN) instead of opening a second case. Refusals (4xx)
// are never retried.
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000];
const RETRY_STATUSES = new Set([502, 503, 504]);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A key for one case creation: 16 random bytes (128 bits) in base64url.
function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function api(path, body, headers = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const last = attempt >= RETRY_DELAYS_MS.length;
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body: JSON.stringify(body),
        credentials: "omit",
        referrerPolicy: "no-referrer",
        cache: "no-store",
      });
    } catch {
      if (!last) {
        await pause(RETRY_DELAYS_MS[attempt]);
        continue;
      }
      throw Object.assign(new Error(t("submit.offline")), { offline: true });
    }
    if (RETRY_STATUSES.has(response.status) && !last) {
      await pause(RETRY_DELAYS_MS[attempt]);
      continue;
    }
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) {
      // The server's `error` is English for operators; the page shows its own
      // translation of the stable `code` (errors.js).
      const error = new Error(payload.error || t("error.generic"));
      error.code = payload.code;
      error.status = response.status;
      error.retryAfter = Number(response.headers.get("Retry-After") || 0);
      // An earlier try got no answer: it may have done what was asked.
      error.retried = attempt > 0;
      throw error;
    }
    return payload;
  }
}

// One key per case creation, kept until it is answered: pressing Submit again
// after a failure resends the same request with the same key.
let pendingCreation = null; // {body, key}

function creationKey(body) {
  const text = JSON.stringify(body);
  if (pendingCreation?.body !== text) pendingCreation = { body: text, key: newIdempotencyKey() };
  return pendingCreation.key;
}

// Each file's hashes (its whole-image hash and derived views, or a video's
// MD5 and vPDQ) share an item label, so the case counts the file once.
function chosenHashes() {
  const seen = new Set();
  const groups = [];
  for (const entry of state.files) {
    if (entry.status !== "ready" || !entry.include) continue;
    const group = [];
    for (const hash of entry.hashes) {
      const key = `${hash.type}:${hash.value}`;
      if (!seen.has(key)) {
        seen.add(key);
        group.push({ ...hash, item: groups.length });
      }
    }
    if (group.length) groups.push(group);
  }
  return groups;
}

// Requests of at most PER_REQUEST hashes that never split a file: item labels
// only group the hashes of one request.
function requestsOf(groups) {
  const requests = [[]];
  for (const group of groups) {
    const last = requests[requests.length - 1];
    if (last.length && last.length + group.length > PER_REQUEST) requests.push([]);
    requests[requests.length - 1].push(...group);
  }
  return requests;
}

$("submit").addEventListener("click", async () => {
  const error = $("files-error");
  error.hidden = true;
  const groups = chosenHashes();
  if (groups.length === 0) {
    error.textContent = t("files.nothing");
    error.hidden = false;
    return;
  }
  $("submit").disabled = true;
  announce(t("submit.sending"));
  try {
    let number;
    let pin;
    const requests = requestsOf(groups);
    if (state.addTo) {
      ({ number, pin } = state.addTo);
    } else {
      const creation = { program: state.program, hashes: requests.shift() };
      const created = await api("/api/v1/cases", creation, { "Idempotency-Key": creationKey(creation) });
      pendingCreation = null;
      number = created.case_number;
      pin = created.pin;
    }
    for (const hashes of requests) {
      await api(`/api/v1/cases/${encodeURIComponent(number)}/hashes`, { pin, hashes });
    }
    if (state.addTo) {
      state.addTo = null;
      await showStatus(number, pin);
      for (const id of steps) $(id).hidden = true;
      $("status-case").focus();
    } else {
      done(number, pin, groups.length);
    }
    state.files = [];
    $("file-list").replaceChildren();
    updateCount();
  } catch (failure) {
    error.textContent = failure.offline ? failure.message : t("submit.error", { reason: errorMessage(failure, t) });
    error.hidden = false;
    error.focus?.();
  } finally {
    $("submit").disabled = false;
  }
});

function done(number, pin, count) {
  $("case-number").textContent = number;
  showCode($("case-pin"), pin);
  $("done-count").textContent = plural("done.sent", count);
  const receipt = [
    t("receipt.title"),
    "",
    `${t("done.number")}: ${number}`,
    `${t("done.pin")}: ${pin}`,
    "",
    t("receipt.keep"),
    t("done.warning"),
    "",
  ].join("\n");
  const link = $("receipt");
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([receipt], { type: "text/plain;charset=utf-8" }));
  $("status-number").value = number;
  show("step-done");
}

// A code in its groups ("7K2M-..."), each kept whole: a narrow screen may
// break the line only after a group's hyphen, never inside a group.
function showCode(output, code) {
  output.replaceChildren(
    ...code.split(/(?<=-)/).map((group) => {
      const span = document.createElement("span");
      span.textContent = group;
      return span;
    }),
  );
}

for (const button of document.querySelectorAll("[data-copy]")) {
  button.addEventListener("click", async () => {
    const text = $(button.dataset.copy).textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const range = document.createRange();
      range.selectNodeContents($(button.dataset.copy));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
    button.textContent = t("done.copied");
    announce(t("done.copied"));
    setTimeout(() => (button.textContent = t("done.copy")), 2000);
  });
}

$("to-status").addEventListener("click", () => {
  $("status-pin").focus();
});

// ---- case status, adding files, withdrawing ---------------------------------

let current = null;

async function showStatus(number, pin) {
  const view = (await api(`/api/v1/cases/${encodeURIComponent(number)}/status`, { pin })).case;
  current = { number: view.number, pin };
  await renderCase(view);
}

$("status-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("status-error");
  error.hidden = true;
  const numberField = $("status-number");
  const pinField = $("status-pin");
  numberField.removeAttribute("aria-invalid");
  pinField.removeAttribute("aria-invalid");
  const pin = pinField.value.trim();
  // The case number's check symbol catches a typo here, before any request;
  // a wrong PIN and an unknown case stay one answer (the server's).
  const checked = checkCaseNumber(numberField.value);
  const local = !checked.ok
    ? { field: numberField, key: `status.number_${checked.reason}` }
    : !pin
      ? { field: pinField, key: "status.pin_empty" }
      : null;
  if (local) {
    error.textContent = t(local.key);
    error.hidden = false;
    local.field.setAttribute("aria-invalid", "true");
    local.field.focus();
    return;
  }
  try {
    await showStatus(checked.number, pin);
    $("status-case").focus();
  } catch (failure) {
    $("status-result").hidden = true;
    error.textContent = errorMessage(failure, t);
    error.hidden = false;
  }
});

$("status-add").addEventListener("click", () => {
  state.addTo = current;
  show("step-files");
});

const dialog = $("confirm");
$("status-withdraw").addEventListener("click", () => dialog.showModal());
$("confirm-no").addEventListener("click", () => {
  dialog.close();
  $("status-withdraw").focus();
});
$("confirm-yes").addEventListener("click", async () => {
  dialog.close();
  try {
    const path = `/api/v1/cases/${encodeURIComponent(current.number)}`;
    let view;
    try {
      view = (await api(`${path}/withdraw`, { pin: current.pin })).case;
    } catch (failure) {
      // Already withdrawn after a try whose answer was lost: that try did it.
      if (failure.status !== 409 || !failure.retried) throw failure;
      view = (await api(`${path}/status`, { pin: current.pin })).case;
    }
    await renderCase(view);
    announce(t("status.withdrawn_done"));
    $("status-case").focus();
  } catch (failure) {
    $("status-error").textContent = errorMessage(failure, t);
    $("status-error").hidden = false;
  }
});

setUpHelpLines();
