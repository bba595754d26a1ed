// The case status view: one card per photo or video, in plain words, made
// for a phone. Labels the person chose to keep on this device (labels.js)
// name the cards; they are read and written here and never sent.
import { forgetLabels, LABEL_MAX_LENGTH, labelsAvailable, loadLabels, saveLabels } from "./labels.js";
import { plural, t } from "./messages.js";

const $ = (id) => document.getElementById(id);
let shown = null; // {number, items, labels}

/** What platforms did with one item, in a short sentence ("Found on 1 platform · removed"). */
export function summary(item) {
  if (item.status === "withdrawn") return t("status.item.withdrawn");
  if (item.status === "removed") return t("status.item.removed");
  const matched = item.platforms_matched;
  if (matched === 0) return t("status.item.not_found");
  const removed = item.platforms_removed;
  const kept = Math.max(0, item.platforms_reviewed - removed);
  const waiting = Math.max(0, matched - item.platforms_reviewed);
  const parts = [plural("status.found", matched)];
  // One platform: "removed" says it all; several: say how many did what.
  if (matched === 1) {
    if (removed) parts.push(t("status.part.removed"));
    if (kept) parts.push(t("status.part.kept"));
    if (waiting) parts.push(t("status.part.waiting"));
  } else {
    if (removed) parts.push(plural("status.part.removed_by", removed));
    if (kept) parts.push(plural("status.part.kept_by", kept));
    if (waiting) parts.push(plural("status.part.waiting_on", waiting));
  }
  return parts.join(" · ");
}

/** "Photo 2", "Video 1": each kind numbered in the order it was sent. */
function names(items) {
  const counts = { photo: 0, video: 0 };
  return items.map((item) => {
    const kind = item.kinds.includes("pdq") ? "photo" : "video";
    counts[kind] += 1;
    return t(`status.item.${kind}`, { number: counts[kind] });
  });
}

/** Show a case (the reply of status, add or withdraw). */
export async function renderCase(view) {
  const labels = labelsAvailable() ? await loadLabels(view.number) : null;
  shown = { number: view.number, items: view.items, labels };
  $("status-case").textContent = `${t("status.case", { number: view.number })} · ${t(`status.${view.status}`)}`;
  drawCards();
  $("labels-box").hidden = !labelsAvailable() || view.items.length === 0;
  $("labels-on").checked = labels !== null;
  const open = view.status === "active";
  $("status-add").hidden = !open;
  $("status-withdraw").hidden = !open;
  $("status-result").hidden = false;
}

function drawCards() {
  const { items, labels } = shown;
  const titles = names(items);
  const cards = items.map((item, index) => {
    const card = document.createElement("li");
    card.className = "card";
    const title = document.createElement("h3");
    const own = labels?.[item.item];
    title.textContent = own ? `${own} (${titles[index]})` : titles[index];
    const text = document.createElement("p");
    text.className = "summary";
    text.textContent = summary(item);
    card.append(title, text);
    if (item.shared.length) {
      const shared = document.createElement("ul");
      shared.className = "shared";
      for (const outcome of item.shared) {
        const line = document.createElement("li");
        line.textContent = t("status.shared", { platform: outcome.platform, outcome: t(`status.outcome.${outcome.outcome}`) });
        shared.append(line);
      }
      card.append(shared);
    }
    if (labels !== null) card.append(labelField(item, titles[index], title));
    return card;
  });
  $("status-items").replaceChildren(...cards);
  $("status-empty").hidden = items.length > 0;
}

function labelField(item, name, title) {
  const field = document.createElement("p");
  field.className = "label-field";
  const input = document.createElement("input");
  input.id = `label-${item.item}`;
  input.maxLength = LABEL_MAX_LENGTH;
  input.autocomplete = "off";
  input.value = shown.labels[item.item] ?? "";
  const label = document.createElement("label");
  label.htmlFor = input.id;
  label.textContent = t("labels.field", { name });
  input.addEventListener("input", () => {
    const text = input.value.trim();
    if (text) shown.labels[item.item] = input.value;
    else delete shown.labels[item.item];
    title.textContent = text ? `${text} (${name})` : name;
    saveLabels(shown.number, shown.labels);
  });
  field.append(label, input);
  return field;
}

$("labels-on").addEventListener("change", async (event) => {
  if (!shown) return;
  if (event.target.checked) {
    shown.labels = (await loadLabels(shown.number)) ?? {};
    await saveLabels(shown.number, shown.labels);
  } else {
    shown.labels = null;
    await forgetLabels(shown.number);
  }
  drawCards();
});
