// The chosen-files list's words and pictures: how many files are chosen and
// ready, and previews that never show a broken image (a quiet placeholder
// stays until a preview has really loaded).
import { plural, t } from "./messages.js";

/** "9 files chosen · 4 ready to send · 2 cannot be used" for the list's entries. */
export function fileSummary(files) {
  if (files.length === 0) return t("files.none");
  const ready = files.filter((f) => f.status === "ready" && f.include).length;
  const unusable = files.filter((f) => f.status === "bad").length;
  const parts = [plural("files.chosen", files.length), plural("files.sendable", ready)];
  if (unusable) parts.push(plural("files.unusable", unusable));
  return parts.join(" · ");
}

/** A preview box for a file: a placeholder naming its kind until a picture loads. */
export function previewBox(file, isVideo) {
  const box = document.createElement("div");
  box.className = "thumb";
  box.setAttribute("aria-hidden", "true");
  const word = document.createElement("span");
  word.textContent = isVideo ? t("kind.video") : t("kind.image");
  box.append(word);
  if (isVideo) showVideo(box, file);
  else showPreview(box, file);
  return box;
}

/** Put an image (a file, or a preview the worker made) in the box, once it has loaded. */
export function showPreview(box, blob) {
  const url = URL.createObjectURL(blob);
  const image = new Image();
  image.alt = "";
  image.addEventListener("load", () => box.replaceChildren(image));
  image.addEventListener("error", () => URL.revokeObjectURL(url));
  image.src = url;
}

function showVideo(box, file) {
  const url = URL.createObjectURL(file);
  const video = document.createElement("video");
  video.muted = true;
  video.preload = "metadata";
  video.addEventListener("loadeddata", () => box.replaceChildren(video));
  video.addEventListener("error", () => URL.revokeObjectURL(url));
  video.src = url;
}
