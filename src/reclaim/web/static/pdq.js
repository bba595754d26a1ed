// PDQ, Meta's 256-bit perceptual image hash, in plain JavaScript (ES module, no dependencies).
//
// It follows Meta's reference (ThreatExchange `pdq/cpp`, as wrapped by the
// `pdqhash` Python package) operation for operation, in float32, so on the
// same RGB pixels it gives the same hex and quality as the reference and as
// reclaim's Python (`reclaim/hashing/float32.py` and `pdq.py`, whose step by
// step description this file mirrors):
//
// 1. Luma Y = 0.299 R + 0.587 G + 0.114 B, in float64, rounded to float32 once.
// 2. The Jarosz tent filter: box filter along each row, then down each column,
//    twice. Each box pass is the reference's `box1DFloat`: a running float32
//    sum, rounded after every add and every subtract, each output the float32
//    quotient sum / count (count shrinks at the edges).
// 3. Decimation to 64x64 at index floor(((k + 0.5) * n) / 64).
// 4. Quality: Meta's gradient count on the 64x64 grid, in float32, truncated.
// 5. The 16x16 corner of the DCT, D A D^T, each output summed over k = 0..63
//    in float32 with a rounding after every multiply and every add.
// 6. Bit k (row k >> 4, column k & 15) is set when the coefficient is above
//    the median (the 128th smallest of 256); the hex is the 256-bit big-endian
//    integer, 64 lowercase characters.
//
// Why `Math.fround` where it is: JavaScript numbers are float64. For one +, -,
// * or / of two float32 values, doing it in float64 and then rounding to
// float32 gives exactly the float32 result (float64 has more than 2 * 24 + 2
// significand bits), so `fround(a + b)` is C++'s `float + float`. Every place
// the reference stores into a `float` (its running sums, its buffers) is a
// `fround` here, or a store into a Float32Array (which rounds the same way).
// Leaving one out would keep extra precision the reference throws away, and a
// hash bit or the quality could then flip on an image that sits near a
// threshold.
//
// Speed: the whole filter runs in one streaming sweep down the image. The
// rows' luma is made and box-filtered along the row (pass 1) four rows at a time
// (four independent running sums overlap in the CPU) into a small ring of
// rows. The column pass (pass 2) keeps one float32 running sum per column,
// advanced a whole row at a time: every column still sees its own adds and
// subtracts in the reference's order, but memory is read row by row. Pass-2
// output rows are filtered along the row at once (pass 3), four at a time,
// keeping only the 64 sampled columns; pass 4 runs down those 64 columns.
// No full-size float buffer is made and nothing is allocated per pixel.

const GRID = 64;
const DCT_SIZE = 16;
const BITS = DCT_SIZE * DCT_SIZE;

/** Rows filtered together along the row (see `boxAlong4`). */
const BLOCK = 4;

/** The reference returns no hash for images smaller than this on a side. */
export const MIN_DIMENSION = 5;

/** A DCT corner whose coefficients are all below this is a flat image. */
const FLAT_LIMIT = 1e-3;

/** Names of the dihedral variants, in the order the reference outputs them. */
export const DIHEDRAL_NAMES = Object.freeze([
  "original",
  "rotate90",
  "rotate180",
  "rotate270",
  "flipx",
  "flipy",
  "flip_plus1",
  "flip_minus1",
]);

const fround = Math.fround;

// Per-channel luma terms in float64: v * 0.299 is the same double product
// whether it is looked up or computed, and the table saves two multiplies a
// pixel. The three terms are summed in float64, (R + G) + B as the reference's
// binding does, and rounded to float32 once, when stored.
const LUMA_R = new Float64Array(256);
const LUMA_G = new Float64Array(256);
const LUMA_B = new Float64Array(256);
for (let v = 0; v < 256; v++) {
  LUMA_R[v] = v * 0.299;
  LUMA_G[v] = v * 0.587;
  LUMA_B[v] = v * 0.114;
}

// Rows 1..16 of the 64-point DCT-II basis. The reference keeps the scale
// factor sqrt(2 / 64) in a float (so it is rounded to float32 first), then
// multiplies by the cosine in double and stores the product in a float.
const DCT = (() => {
  const matrix = new Float32Array(DCT_SIZE * GRID);
  const scale = fround(Math.sqrt(2 / GRID));
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < GRID; j++) {
      matrix[i * GRID + j] = fround(scale * Math.cos((Math.PI / 2 / GRID) * (i + 1) * (2 * j + 1)));
    }
  }
  return matrix;
})();

/** A copy of the 16x64 float32 DCT matrix (row-major), for tests. */
export function pdqDctMatrix() {
  return DCT.slice();
}

/** The box window the reference uses to shrink `length` pixels to 64. */
function windowSize(length) {
  return Math.floor((length + 2 * GRID - 1) / (2 * GRID));
}

/** The 64 indices the reference keeps: floor(((k + 0.5) * length) / 64). */
function samplePositions(length) {
  const positions = new Int32Array(GRID);
  for (let k = 0; k < GRID; k++) positions[k] = Math.floor(((k + 0.5) * length) / GRID);
  return positions;
}

/**
 * One box pass along four rows at once: `box1DFloat` with stride 1, per row.
 *
 * Output o averages the inputs in [o - (window - half), o + half - 1], clipped
 * to the row, with half = (window + 2) >> 1. The four loops are the
 * reference's four phases, in its order, so each row's running sum is rounded
 * at the same steps. Stores into the Float32Array `dst` round each quotient.
 *
 * Why four rows: one row's running sum is a chain of dependent float64 adds
 * and float32 roundings, so a single row runs at the latency of that chain.
 * Four independent sums (in locals, one per row, never mixed) let the CPU
 * overlap them. Row k reads `src` from offset sk and writes `dst` from dk; to
 * filter fewer rows, repeat a row (same offsets: the same values are written
 * twice).
 */
function boxAlong4(src, s0, s1, s2, s3, dst, d0, d1, d2, d3, n, window) {
  const half = (window + 2) >> 1;
  let a = 0;
  let b = 0;
  let c = 0;
  let e = 0;
  let count = 0;
  let ri = 0;
  let li = 0;
  let oi = 0;
  for (let i = 0; i < half - 1; i++, ri++) {
    a = fround(a + src[s0 + ri]);
    b = fround(b + src[s1 + ri]);
    c = fround(c + src[s2 + ri]);
    e = fround(e + src[s3 + ri]);
    count++;
  }
  for (let i = 0; i < window - half + 1; i++, ri++, oi++) {
    a = fround(a + src[s0 + ri]);
    b = fround(b + src[s1 + ri]);
    c = fround(c + src[s2 + ri]);
    e = fround(e + src[s3 + ri]);
    count++;
    dst[d0 + oi] = a / count;
    dst[d1 + oi] = b / count;
    dst[d2 + oi] = c / count;
    dst[d3 + oi] = e / count;
  }
  for (let i = 0; i < n - window; i++, ri++, li++, oi++) {
    a = fround(fround(a + src[s0 + ri]) - src[s0 + li]);
    b = fround(fround(b + src[s1 + ri]) - src[s1 + li]);
    c = fround(fround(c + src[s2 + ri]) - src[s2 + li]);
    e = fround(fround(e + src[s3 + ri]) - src[s3 + li]);
    dst[d0 + oi] = a / window;
    dst[d1 + oi] = b / window;
    dst[d2 + oi] = c / window;
    dst[d3 + oi] = e / window;
  }
  for (let i = 0; i < half - 1; i++, li++, oi++) {
    a = fround(a - src[s0 + li]);
    b = fround(b - src[s1 + li]);
    c = fround(c - src[s2 + li]);
    e = fround(e - src[s3 + li]);
    count--;
    dst[d0 + oi] = a / count;
    dst[d1 + oi] = b / count;
    dst[d2 + oi] = c / count;
    dst[d3 + oi] = e / count;
  }
}

/**
 * One box pass down the columns of a row-major image, all columns at once.
 *
 * `sums` holds one float32 running sum per column (a Float32Array, so every
 * += and -= is rounded like the reference's `float sum`). Rows are added and
 * dropped in the reference's phase order; `rowAt(r)` gives the offset of row
 * r in `buf` (and may compute it on first use); `emit(o, count)` is called
 * when output row o is sums / count.
 */
function boxDown(buf, rowAt, rowCount, width, window, sums, emit) {
  sums.fill(0);
  const half = (window + 2) >> 1;
  let ri = 0;
  let li = 0;
  let out = 0;
  let count = 0;
  const add = (r) => {
    const base = rowAt(r);
    for (let c = 0; c < width; c++) sums[c] = fround(sums[c] + buf[base + c]);
  };
  const drop = (r) => {
    const base = rowAt(r);
    for (let c = 0; c < width; c++) sums[c] = fround(sums[c] - buf[base + c]);
  };
  for (let i = 0; i < half - 1; i++) {
    add(ri++);
    count++;
  }
  for (let i = 0; i < window - half + 1; i++) {
    add(ri++);
    count++;
    emit(out++, count);
  }
  for (let i = 0; i < rowCount - window; i++) {
    add(ri++);
    drop(li++);
    emit(out++, count);
  }
  for (let i = 0; i < half - 1; i++) {
    drop(li++);
    count--;
    emit(out++, count);
  }
}

/** The reference's 64x64 float32 grid (row-major Float32Array) of RGBA pixels. */
function lumaGrid(data, width, height) {
  const alongRows = windowSize(width);
  const downCols = windowSize(height);
  const cols = samplePositions(width);
  const rows = samplePositions(height);

  // Luma of one row: float64 sum (R + G) + B, rounded to float32 once by the
  // store into the Float32Array.
  const lumaRow = (row, out, base) => {
    for (let c = 0, p = row * width * 4; c < width; c++, p += 4) {
      out[base + c] = LUMA_R[data[p]] + LUMA_G[data[p + 1]] + LUMA_B[data[p + 2]];
    }
  };

  // Pass 1 output rows live in a ring: pass 2 needs rows ri and ri - window,
  // and rows are made four at a time, up to three ahead of ri.
  const slots = downCols + BLOCK;
  const ring = new Float32Array(slots * width);
  const luma = new Float32Array(BLOCK * width);
  let made = 0;
  const pass1Row = (r) => {
    if (r >= made) {
      const last = Math.min(made + BLOCK, height) - 1;
      for (let row = made; row <= last; row++) lumaRow(row, luma, (row - made) * width);
      const at = (k) => (Math.min(made + k, last) % slots) * width;
      const from = (k) => Math.min(k, last - made) * width;
      boxAlong4(luma, from(0), from(1), from(2), from(3), ring, at(0), at(1), at(2), at(3), width, alongRows);
      made = last + 1;
    }
    return (r % slots) * width;
  };

  // Pass 2 output rows, four at a time -> pass 3 along them -> the 64
  // sampled columns of each.
  const sums = new Float32Array(width);
  const pass2 = new Float32Array(BLOCK * width);
  const pass3 = new Float32Array(BLOCK * width);
  const sampled = new Float32Array(height * GRID);
  const pass2Row = (o, count) => {
    const slot = o % BLOCK;
    const base = slot * width;
    for (let c = 0; c < width; c++) pass2[base + c] = sums[c] / count; // float32 quotient
    if (slot < BLOCK - 1 && o < height - 1) return;
    const at = (k) => Math.min(k, slot) * width;
    boxAlong4(pass2, at(0), at(1), at(2), at(3), pass3, at(0), at(1), at(2), at(3), width, alongRows);
    for (let k = 0; k <= slot; k++) {
      const out = (o - slot + k) * GRID;
      for (let j = 0; j < GRID; j++) sampled[out + j] = pass3[k * width + cols[j]];
    }
  };
  boxDown(ring, pass1Row, height, width, downCols, sums, pass2Row);

  // Pass 4 down the 64 kept columns, then keep the 64 sampled rows.
  const sums64 = new Float32Array(GRID);
  const pass4 = new Float32Array(height * GRID);
  const pass4Row = (o, count) => {
    const base = o * GRID;
    for (let j = 0; j < GRID; j++) pass4[base + j] = sums64[j] / count;
  };
  boxDown(sampled, (r) => r * GRID, height, GRID, downCols, sums64, pass4Row);
  const grid = new Float32Array(GRID * GRID);
  for (let k = 0; k < GRID; k++) grid.set(pass4.subarray(rows[k] * GRID, rows[k] * GRID + GRID), k * GRID);
  return grid;
}

/** Meta's quality metric (0-100): how many significant gradients the grid has. */
function qualityOf(grid) {
  // The reference's `int d = ((u - v) * 100) / 255` on floats: each of the
  // three steps is rounded to float32, and the int conversion truncates.
  let total = 0;
  for (let i = 0; i < GRID - 1; i++) {
    for (let j = 0; j < GRID; j++) {
      const d = fround(fround(fround(grid[i * GRID + j] - grid[(i + 1) * GRID + j]) * 100) / 255);
      total += Math.abs(Math.trunc(d));
    }
  }
  for (let i = 0; i < GRID; i++) {
    for (let j = 0; j < GRID - 1; j++) {
      const d = fround(fround(fround(grid[i * GRID + j] - grid[i * GRID + j + 1]) * 100) / 255);
      total += Math.abs(Math.trunc(d));
    }
  }
  return Math.min(Math.floor(total / 90), 100);
}

/**
 * The 16x16 DCT corner D A D^T, summed in float32 in the reference's order.
 *
 * The reference's `sumk += D[i][k] * A[k][j]` on floats rounds the product to
 * float32, then the sum (no fused multiply-add), for k = 0..63 from zero:
 * two `fround`s per step here.
 */
function dctCorner(grid) {
  const partial = new Float32Array(DCT_SIZE * GRID);
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < GRID; j++) {
      let sum = 0;
      for (let k = 0; k < GRID; k++) sum = fround(sum + fround(DCT[i * GRID + k] * grid[k * GRID + j]));
      partial[i * GRID + j] = sum;
    }
  }
  const corner = new Float32Array(BITS);
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < DCT_SIZE; j++) {
      let sum = 0;
      for (let k = 0; k < GRID; k++) sum = fround(sum + fround(partial[i * GRID + k] * DCT[j * GRID + k]));
      corner[i * DCT_SIZE + j] = sum;
    }
  }
  return corner;
}

const HEX = "0123456789abcdef";

/** 64 hex characters: bit k set when coefficient k is above the median. */
function thresholdHex(coefficients) {
  // Torben's median as the reference uses it: the 128th smallest of 256.
  const sorted = Float32Array.from(coefficients).sort();
  const median = sorted[BITS / 2 - 1];
  let hex = "";
  // The first character holds bits 255..252, the last bits 3..0.
  for (let bit = BITS - 4; bit >= 0; bit -= 4) {
    const nibble =
      (coefficients[bit + 3] > median ? 8 : 0) |
      (coefficients[bit + 2] > median ? 4 : 0) |
      (coefficients[bit + 1] > median ? 2 : 0) |
      (coefficients[bit] > median ? 1 : 0);
    hex += HEX[nibble];
  }
  return hex;
}

function checkedSize(data, width, height) {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new TypeError(`${width}x${height} is not an image size: expected whole numbers of pixels`);
  }
  if (Math.min(width, height) < MIN_DIMENSION) {
    throw new Error(
      `the image is ${width}x${height} pixels: PDQ needs at least ${MIN_DIMENSION} pixels on each side`,
    );
  }
  if (!data || typeof data.length !== "number" || data.length < width * height * 4) {
    throw new TypeError(
      `the pixel data holds ${data ? data.length : 0} bytes: a ${width}x${height} RGBA image needs ${width * height * 4}`,
    );
  }
}

/** Quality and DCT corner of RGBA pixels; throws for tiny or flat images. */
function features(data, width, height) {
  checkedSize(data, width, height);
  const grid = lumaGrid(data, width, height);
  const quality = qualityOf(grid);
  const corner = dctCorner(grid);
  let largest = 0;
  for (let k = 0; k < BITS; k++) largest = Math.max(largest, Math.abs(corner[k]));
  if (largest < FLAT_LIMIT) {
    throw new Error(
      "the image is one flat colour: it has no detail to fingerprint, and its hash would match every other flat image",
    );
  }
  return { corner, quality };
}

/**
 * PDQ of raw RGBA pixels (row-major, 4 bytes a pixel; alpha is ignored, the
 * RGB values are used as they are, as the Python reference drops alpha).
 * Returns {hex, quality}.
 */
export function pdqHashRGBA(data, width, height) {
  const { corner, quality } = features(data, width, height);
  return { hex: thresholdHex(corner), quality };
}

/** PDQ of an ImageData (or any {data, width, height} RGBA): {hex, quality}. */
export function pdqHashImageData(imageData) {
  return pdqHashRGBA(imageData.data, imageData.width, imageData.height);
}

/**
 * The 8 rotations and mirrors' hashes, [{hex, quality}], in `DIHEDRAL_NAMES`
 * order, from one DCT: rotating or mirroring the image only flips the signs
 * of odd rows/columns of the DCT and/or transposes it (exact in float32).
 */
export function pdqDihedral(imageData) {
  const { corner, quality } = features(imageData.data, imageData.width, imageData.height);
  // odd(i) is +1 for odd i and -1 for even i, as in reclaim's pdq.py.
  const odd = (i) => ((i & 1) === 1 ? 1 : -1);
  const variant = (pick) => {
    const out = new Float32Array(BITS);
    for (let i = 0; i < DCT_SIZE; i++) {
      for (let j = 0; j < DCT_SIZE; j++) out[i * DCT_SIZE + j] = pick(i, j);
    }
    return out;
  };
  const a = (i, j) => corner[i * DCT_SIZE + j];
  const variants = [
    corner,
    variant((i, j) => a(j, i) * odd(i)), // rotate90
    variant((i, j) => a(i, j) * odd(i) * odd(j)), // rotate180
    variant((i, j) => a(j, i) * odd(j)), // rotate270
    variant((i, j) => a(i, j) * odd(i)), // flipx
    variant((i, j) => a(i, j) * odd(j)), // flipy
    variant((i, j) => a(j, i)), // flip_plus1 (transpose)
    variant((i, j) => a(j, i) * odd(i) * odd(j)), // flip_minus1
  ];
  return variants.map((v) => ({ hex: thresholdHex(v), quality }));
}
