// Labels a person may keep for their photos and videos, on this device only.
// Off unless they switch it on for a case. Stored in this browser's
// localStorage under a SHA-256 of the case number (never the number itself),
// item index -> label; never sent anywhere: no request is built from here.
// Switching it off forgets that case's labels; Leave quickly forgets them all.
const PREFIX = "reclaim-labels:";
const MAX_LENGTH = 60;

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage blocked (private mode, policy): the option is hidden
  }
}

/** Whether labels can be kept here (storage and a secure-context digest). */
export function labelsAvailable() {
  return Boolean(storage() && globalThis.crypto?.subtle);
}

async function keyFor(number) {
  const bytes = new TextEncoder().encode(`reclaim case ${number}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return PREFIX + Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** This case's labels ({item: text}), or null when the person has not switched them on. */
export async function loadLabels(number) {
  const store = storage();
  if (!store) return null;
  try {
    const saved = store.getItem(await keyFor(number));
    return saved === null ? null : JSON.parse(saved);
  } catch {
    return null;
  }
}

/** Keep `labels` for this case (switching labels on if they were off). */
export async function saveLabels(number, labels) {
  const tidy = {};
  for (const [item, text] of Object.entries(labels)) {
    const trimmed = String(text).slice(0, MAX_LENGTH);
    if (trimmed.trim()) tidy[item] = trimmed;
  }
  storage()?.setItem(await keyFor(number), JSON.stringify(tidy));
}

/** Forget this case's labels and switch them off. */
export async function forgetLabels(number) {
  storage()?.removeItem(await keyFor(number));
}

/** Forget every case's labels on this device (Leave quickly). Synchronous on purpose. */
export function forgetAllLabels() {
  const store = storage();
  if (!store) return;
  for (let index = store.length - 1; index >= 0; index -= 1) {
    const key = store.key(index);
    if (key?.startsWith(PREFIX)) store.removeItem(key);
  }
}

export const LABEL_MAX_LENGTH = MAX_LENGTH;
