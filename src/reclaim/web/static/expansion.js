// Derived views of a photo (edge and centre crops, small turns) and their PDQ
// hashes: the browser twin of reclaim.hashing.expansion (ES module).
//
// A cropped or tilted copy hashes far from the original, so the person's
// device also hashes these views and sends them as plain PDQ hashes of the
// same item. The pixels of every view are made by integer rules only, so
// they are the very same bytes as Python's (`reclaim/hashing/views.py`,
// `rotate.py`), and the hashes are those of pdq.js on those bytes:
//
// * Working image: the RGB picture shrunk, when its long side passes 256, by
//   the integer factor n = ceil(long / 256), each pixel the rounded mean
//   (sum + floor(n*n / 2)) / (n*n), floored, of an n x n block; leftover
//   rows and columns at the bottom and right are dropped.
// * Crop: floor(permille * side / 1000) pixels off one side, or half of
//   that (floored) off each of the four sides for the centre.
// * Turn: cosine and sine as integers scaled by 2^16 (`TURNS`). Output size:
//   the largest centred same-shape box inside the turned picture. Output
//   pixel (x, y) reads the input at U = c*dx - s*dy + (W - 1)*2^16 and
//   V = s*dx + c*dy + (H - 1)*2^16 (dx = 2x + 1 - w, dy = 2y + 1 - h), in
//   1 / 2^17 pixel units, mixed bilinearly with 8-bit weights.
// All intermediate values stay below 2^53, so doubles hold them exactly.
import { pdqHashRGBA } from "./pdq.js";

/** The working image's long side is at most this many pixels. */
export const WORKING_SIDE = 256;

/** Views below this PDQ quality are dropped (they match unrelated images). */
export const MIN_QUALITY = 50;

const ONE = 65536;
const HALF = 2 * ONE;

/** round(cos(d) * 2^16), round(sin(d) * 2^16) for d = 0.5, 1, ... 5 degrees. */
export const TURNS = Object.freeze({
  0.5: [65534, 572],
  1: [65526, 1144],
  1.5: [65514, 1716],
  2: [65496, 2287],
  2.5: [65474, 2859],
  3: [65446, 3430],
  3.5: [65414, 4001],
  4: [65376, 4572],
  4.5: [65334, 5142],
  5: [65287, 5712],
});

const SIDES = ["left", "right", "top", "bottom", "centre"];

/** The views, in Python's `SUBMISSION_VIEWS` order. */
export const SUBMISSION_VIEWS = Object.freeze([
  // Crops every 4% to 20% off each side and around the centre.
  ...[40, 80, 120, 160, 200].flatMap((permille) =>
    SIDES.map((side) => ({ kind: "crop", side, permille, name: `crop-${side}-${permille}` })),
  ),
  ...[1.5, 3, 4.5].flatMap((degrees) =>
    [degrees, -degrees].map((d) => ({ kind: "rotate", degrees: d, name: `rotate-${d}` })),
  ),
  // Edge cuts: 30%, half or 70% of each side cut away (captions, stickers).
  ...[300, 500, 700].flatMap((permille) =>
    SIDES.slice(0, 4).map((side) => ({ kind: "crop", side, permille, name: `crop-${side}-${permille}` })),
  ),
]);

/** The picture shrunk by block means so its long side is at most 256. */
export function workingImage(image) {
  const { data, width, height } = image;
  const factor = Math.ceil(Math.max(width, height) / WORKING_SIDE);
  if (factor <= 1) return image;
  const rows = Math.floor(height / factor);
  const cols = Math.floor(width / factor);
  const area = factor * factor;
  const out = new Uint8ClampedArray(rows * cols * 4);
  const sums = new Float64Array(cols * 3);
  for (let r = 0; r < rows; r++) {
    sums.fill(0);
    for (let y = r * factor; y < (r + 1) * factor; y++) {
      let at = y * width * 4;
      for (let c = 0; c < cols; c++) {
        for (let k = 0; k < factor; k++, at += 4) {
          sums[c * 3] += data[at];
          sums[c * 3 + 1] += data[at + 1];
          sums[c * 3 + 2] += data[at + 2];
        }
      }
    }
    for (let c = 0; c < cols; c++) {
      const o = (r * cols + c) * 4;
      for (let ch = 0; ch < 3; ch++) {
        out[o + ch] = Math.floor((sums[c * 3 + ch] + Math.floor(area / 2)) / area);
      }
      out[o + 3] = 255;
    }
  }
  return { data: out, width: cols, height: rows };
}

/** (top, bottom, left, right) kept by a crop view. */
export function cropBox(width, height, side, permille) {
  const across = Math.floor((width * permille) / 1000);
  const down = Math.floor((height * permille) / 1000);
  if (side === "left") return [0, height, across, width];
  if (side === "right") return [0, height, 0, width - across];
  if (side === "top") return [down, height, 0, width];
  if (side === "bottom") return [0, height - down, 0, width];
  const a = Math.floor(across / 2);
  const d = Math.floor(down / 2);
  return [d, height - d, a, width - a];
}

function crop(image, side, permille) {
  const [top, bottom, left, right] = cropBox(image.width, image.height, side, permille);
  const width = Math.max(0, right - left);
  const height = Math.max(0, bottom - top);
  const out = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * 4;
    out.set(image.data.subarray(from, from + width * 4), y * width * 4);
  }
  return { data: out, width, height };
}

/** [width, height] of the largest centred same-shape box inside the turn. */
export function turnedSize(width, height, c, s) {
  const sine = Math.abs(s);
  const across = width * c + height * sine;
  const down = width * sine + height * c;
  if (width * down <= height * across) {
    return [Math.floor((width * width * ONE) / across), Math.floor((height * width * ONE) / across)];
  }
  return [Math.floor((width * height * ONE) / down), Math.floor((height * height * ONE) / down)];
}

function rotate(image, degrees) {
  const [c, sine] = TURNS[Math.abs(degrees)];
  const s = degrees < 0 ? -sine : sine;
  const { data, width, height } = image;
  const [outW, outH] = turnedSize(width, height, c, s);
  const out = new Uint8ClampedArray(outW * outH * 4);
  for (let y = 0; y < outH; y++) {
    const dy = 2 * y + 1 - outH;
    for (let x = 0; x < outW; x++) {
      const dx = 2 * x + 1 - outW;
      const u = c * dx - s * dy + (width - 1) * ONE;
      const v = s * dx + c * dy + (height - 1) * ONE;
      let x0 = Math.floor(u / HALF);
      let y0 = Math.floor(v / HALF);
      const fx = (u - x0 * HALF) >> 9;
      const fy = (v - y0 * HALF) >> 9;
      x0 = Math.min(Math.max(x0, 0), width - 1);
      y0 = Math.min(Math.max(y0, 0), height - 1);
      const x1 = Math.min(x0 + 1, width - 1);
      const y1 = Math.min(y0 + 1, height - 1);
      const gx = 256 - fx;
      const gy = 256 - fy;
      const a = (y0 * width + x0) * 4;
      const b = (y0 * width + x1) * 4;
      const p = (y1 * width + x0) * 4;
      const q = (y1 * width + x1) * 4;
      const o = (y * outW + x) * 4;
      for (let ch = 0; ch < 3; ch++) {
        const total =
          data[a + ch] * gx * gy + data[b + ch] * fx * gy + data[p + ch] * gx * fy + data[q + ch] * fx * fy;
        out[o + ch] = (total + 32768) >> 16;
      }
      out[o + 3] = 255;
    }
  }
  return { data: out, width: outW, height: outH };
}

/** The pixels of one view of the working image. */
export function applyView(work, view) {
  return view.kind === "crop" ? crop(work, view.side, view.permille) : rotate(work, view.degrees);
}

/** [{name, hex, quality}] of every view that can be hashed (no gate, no dedupe). */
export function viewHashes(imageData, views = SUBMISSION_VIEWS) {
  const work = workingImage(imageData);
  const out = [];
  for (const view of views) {
    const pixels = applyView(work, view);
    let hashed;
    try {
      hashed = pdqHashRGBA(pixels.data, pixels.width, pixels.height);
    } catch (error) {
      continue; // too small or one flat colour: Python leaves it out too
    }
    out.push({ name: view.name, ...hashed });
  }
  return out;
}

/**
 * The whole image's hash first, then its views' hashes at quality >= 50,
 * without repeats: [{hex, quality, view}]. Throws, as pdq.js does, when the
 * whole image cannot be hashed.
 */
export function submissionHashes(imageData, views = SUBMISSION_VIEWS) {
  const whole = pdqHashRGBA(imageData.data, imageData.width, imageData.height);
  const hashes = [{ ...whole, view: "whole" }];
  const seen = new Set([whole.hex]);
  for (const { name, hex, quality } of viewHashes(imageData, views)) {
    if (quality < MIN_QUALITY || seen.has(hex)) continue;
    seen.add(hex);
    hashes.push({ hex, quality, view: name });
  }
  return hashes;
}
