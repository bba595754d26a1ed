// The review queue and match pages: reveal blurred previews, confirm bulk
// decisions in a dialog, and keyboard shortcuts. Pages work without it (a
// confirmation page stands in for the dialog).

const rows = () => Array.from(document.querySelectorAll("tr[data-row]"));
let current = -1;

function typing(target) {
  // Shortcuts never fire while someone types in a field (ticking a box is
  // not typing).
  if (!(target instanceof Element)) return false;
  if (target.closest("textarea, select, [contenteditable]")) return true;
  const input = target.closest("input");
  return Boolean(input) && !["checkbox", "radio", "button", "submit", "reset"].includes(input.type);
}

function reveal(button) {
  const image = document.getElementById(button.dataset.reveal);
  if (!image) return;
  const shown = image.classList.toggle("revealed");
  button.setAttribute("aria-pressed", shown ? "true" : "false");
}

function focusRow(index) {
  const all = rows();
  if (!all.length) return;
  current = Math.max(0, Math.min(index, all.length - 1));
  all.forEach((row, n) => row.classList.toggle("current", n === current));
  all[current].focus();
}

function currentRow() {
  const all = rows();
  const focused = document.activeElement?.closest?.("tr[data-row]");
  if (focused) current = all.indexOf(focused);
  return current >= 0 ? all[current] : null;
}

function selected() {
  return Array.from(document.querySelectorAll("#bulk input[name='id']:checked"));
}

function updateCount() {
  const counter = document.getElementById("selected-count");
  if (!counter) return;
  const n = selected().length;
  counter.textContent = n
    ? `${n} selected.`
    : "Select matches to decide several at once.";
}

function decide(value) {
  const bulk = document.getElementById("bulk");
  if (bulk && selected().length) {
    bulk.querySelector(`button[data-bulk='${value}']`)?.click();
    return;
  }
  const row = currentRow();
  const scope = row || (bulk ? null : document);
  scope?.querySelector(`button[data-one='${value}']`)?.click();
}

function confirmBulk(form) {
  const dialog = document.getElementById("confirm");
  if (!dialog || typeof dialog.showModal !== "function") return;
  let confirmed = false;
  form.addEventListener("submit", (event) => {
    const submitter = event.submitter;
    if (!submitter?.dataset.bulk || confirmed) return;
    event.preventDefault();
    const n = selected().length;
    if (!n) {
      document.getElementById("selected-count").textContent =
        "Nothing selected: tick matches first (x selects the current one).";
      return;
    }
    dialog.querySelector("#confirm-text").textContent =
      `Mark ${n} match${n === 1 ? "" : "es"} as ${submitter.textContent.replace(" (selected)", "")}?`;
    dialog.returnValue = "";
    dialog.showModal();
    dialog.querySelector("[data-cancel]").focus();
    dialog.querySelector("[data-confirm]").onclick = () => {
      const flag = document.createElement("input");
      flag.type = "hidden";
      flag.name = "confirmed";
      flag.value = "yes";
      form.append(flag);
      confirmed = true;
      dialog.close();
      form.requestSubmit(submitter);
    };
  });
  dialog.querySelector("[data-cancel]").addEventListener("click", () => dialog.close());
}

document.addEventListener("click", (event) => {
  const button = event.target.closest?.("button[data-reveal]");
  if (button) reveal(button);
});

document.addEventListener("change", (event) => {
  if (event.target.matches?.("#bulk input[name='id']")) updateCount();
});

const bulk = document.getElementById("bulk");
if (bulk) confirmBulk(bulk);

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  if (document.querySelector("dialog[open]")) return;
  const help = document.getElementById("shortcuts");
  switch (event.key) {
    case "j":
      focusRow(current + 1);
      break;
    case "k":
      focusRow(current < 0 ? 0 : current - 1);
      break;
    case "x": {
      const box = currentRow()?.querySelector("input[name='id']");
      if (!box) return;
      box.checked = !box.checked;
      updateCount();
      break;
    }
    case "b":
      decide("blocked");
      break;
    case "n":
      decide("not_blocked");
      break;
    case "r": {
      const scope = currentRow() || document;
      const button = scope.querySelector("button[data-reveal]");
      if (!button) return;
      reveal(button);
      break;
    }
    case "u":
      document.querySelector("button[data-undo]")?.click();
      break;
    case "?":
      if (help) {
        help.open = !help.open;
        if (help.open) help.querySelector("summary").focus();
      }
      break;
    default:
      return;
  }
  event.preventDefault();
});
