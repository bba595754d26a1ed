// Solid bars (letterbox, pillarbox) around a video's picture, found as the
// Python side finds them (`reclaim/hashing/borders.py` and `_Letterbox` in
// `video.py`), so a letterboxed video hashed here also gets the frames inside
// its bars, and those equal Python's.
//
// Pixels are RGBA (alpha ignored); Python's are RGB. A row or column is bar
// when every pixel in it is within TOLERANCE of the colour of the corners.
import { pdqHashRGBA } from "./pdq.js";

/** Largest per-channel difference from the border colour still counted as bar. */
export const TOLERANCE = 24;
/** Crop only if the picture inside keeps at least this share of each side. */
const MIN_KEEP = 0.3;
/** Ignore borders thinner than this share of the side (compression noise). */
const MIN_BAR = 0.02;
/** Sampled frames that decide the bars. */
const DECIDE_AFTER = 3;

/** The median of four numbers as numpy computes it, truncated as int16 casts. */
function median4(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.trunc((sorted[1] + sorted[2]) / 2);
}

/**
 * How many leading lines are all border colour. A "line" is `count` steps of
 * `lineStep` bytes from `start`; each line has `length` pixels `pixelStep` apart.
 */
function leading(data, colour, start, count, lineStep, length, pixelStep) {
  const [r, g, b] = colour;
  for (let line = 0; line < count; line++) {
    let at = start + line * lineStep;
    for (let k = 0; k < length; k++, at += pixelStep) {
      if (
        Math.abs(data[at] - r) > TOLERANCE ||
        Math.abs(data[at + 1] - g) > TOLERANCE ||
        Math.abs(data[at + 2] - b) > TOLERANCE
      ) {
        return line;
      }
    }
  }
  return count;
}

function worthCropping(box, height, width) {
  const top = box.top;
  const bottom = height - box.bottom;
  const left = box.left;
  const right = width - box.right;
  const keptH = box.bottom - box.top;
  const keptW = box.right - box.left;
  if (keptH < MIN_KEEP * height || keptW < MIN_KEEP * width) return null;
  const thick = Math.max(top, bottom) >= MIN_BAR * height || Math.max(left, right) >= MIN_BAR * width;
  return thick ? box : null;
}

/** The picture inside solid borders as {top, bottom, left, right}, or null. */
export function findBorders(data, width, height) {
  if (height < 16 || width < 16) return null;
  const corner = (row, col) => (row * width + col) * 4;
  const corners = [corner(0, 0), corner(0, width - 1), corner(height - 1, 0), corner(height - 1, width - 1)];
  const colour = [0, 1, 2].map((c) => median4(corners.map((at) => data[at + c])));
  // Every other row and column is enough to find bars; the box is then pulled
  // in by one step so that no bar pixel can remain inside it.
  const step = Math.min(height, width) >= 64 ? 2 : 1;
  const rows = Math.ceil(height / step);
  const cols = Math.ceil(width / step);
  const rowBytes = width * 4 * step;
  const px = 4 * step;
  const top = leading(data, colour, 0, rows, rowBytes, cols, px);
  if (top >= rows) return null; // the whole image is one colour
  const bottom = leading(data, colour, (rows - 1) * rowBytes, rows, -rowBytes, cols, px);
  const left = leading(data, colour, 0, cols, px, rows, rowBytes);
  const right = leading(data, colour, (cols - 1) * px, cols, -px, rows, rowBytes);
  const inward = step - 1;
  const box = {
    top: Math.min(top * step + (top ? inward : 0), height),
    bottom: Math.max((rows - bottom) * step - (bottom ? inward : 0), 0),
    left: Math.min(left * step + (left ? inward : 0), width),
    right: Math.max((cols - right) * step - (right ? inward : 0), 0),
  };
  return worthCropping(box, height, width);
}

/** Whether every channel of every pixel lies within 24 of the others. */
export function isFlat(data, width, height) {
  let low = 255;
  let high = 0;
  const end = width * height * 4;
  for (let at = 0; at < end; at += 4) {
    for (let c = at; c < at + 3; c++) {
      const v = data[c];
      if (v < low) low = v;
      if (v > high) high = v;
    }
    // A picture shows it at once; only a blank frame is read to the end.
    if (high - low > 24) return false;
  }
  return true;
}

/** The RGBA pixels inside `box`. */
export function cropRGBA(data, width, box) {
  const w = box.right - box.left;
  const h = box.bottom - box.top;
  const out = new Uint8ClampedArray(w * h * 4);
  for (let row = 0; row < h; row++) {
    const from = ((box.top + row) * width + box.left) * 4;
    out.set(data.subarray(from, from + w * 4), row * w * 4);
  }
  return out;
}

/** PDQ {hex, quality} of RGBA pixels, or null for a flat or tiny frame. */
export function frameHash(data, width, height) {
  try {
    return pdqHashRGBA(data, width, height);
  } catch {
    return null; // a fade to black has no hash, as in Python
  }
}

const same = (a, b) => a.top === b.top && a.bottom === b.bottom && a.left === b.left && a.right === b.right;
const inside = (bars, frame) =>
  frame.top >= bars.top && frame.bottom <= bars.bottom && frame.left >= bars.left && frame.right <= bars.right;

/**
 * Decides the bars from the first sampled frames, then hashes the picture
 * inside them in every sampled frame. A frame with picture where the bars
 * were counts against them; over 10% such frames drops the cropped hashes.
 */
export class Letterbox {
  /** `hasher(pixels, width, height)` gives {hex, quality} or null, or a promise of it. */
  constructor(hasher = frameHash) {
    this.hasher = hasher;
    this.jobs = [];
    this.box = null;
    this.decided = false;
    this.pending = [];
    this.boxes = [];
    this.frames = [];
    this.disagree = 0;
    this.seen = 0;
  }

  /** Take one sampled frame (its RGBA pixels may be reused after this call). */
  add(index, data, width, height) {
    const found = findBorders(data, width, height);
    const full = { top: 0, bottom: height, left: 0, right: width };
    if (found === null && isFlat(data, width, height)) return; // says nothing about bars
    this.seen += 1;
    const box = found || full;
    if (!this.decided) {
      this.boxes.push(box);
      this.pending.push({ index, data: data.slice(), width, height });
      if (this.boxes.length >= DECIDE_AFTER) this.decide(full);
      return;
    }
    if (this.box === null) return;
    if (!inside(this.box, box)) this.disagree += 1;
    this.hash(index, data, width);
  }

  decide(full) {
    this.decided = true;
    const union = {
      top: Math.min(...this.boxes.map((b) => b.top)),
      bottom: Math.max(...this.boxes.map((b) => b.bottom)),
      left: Math.min(...this.boxes.map((b) => b.left)),
      right: Math.max(...this.boxes.map((b) => b.right)),
    };
    this.box = same(union, full) ? null : union;
    if (this.box !== null) {
      for (const { index, data, width } of this.pending) this.hash(index, data, width);
    }
    this.pending = [];
  }

  hash(index, data, width) {
    const box = this.box;
    const job = this.hasher(cropRGBA(data, width, box), box.right - box.left, box.bottom - box.top);
    this.jobs.push(
      Promise.resolve(job).then((hashed) => {
        if (hashed) this.frames.push({ index, ...hashed });
      }),
    );
  }

  /** {box, frames}: the bars and the frames inside them, or {box: null, frames: []}. */
  async result() {
    await Promise.all(this.jobs);
    this.frames.sort((a, b) => a.index - b.index);
    if (!this.decided && this.boxes.length) {
      const first = this.pending[0];
      this.decide({ top: 0, bottom: first.height, left: 0, right: first.width });
    }
    if (this.box === null || this.disagree > 0.1 * Math.max(this.seen, 1)) return { box: null, frames: [] };
    return { box: this.box, frames: this.frames };
  }
}
