// Which of a video's frames vPDQ samples, and which compressed packets must
// be decoded to get them: the browser's side of `reclaim/hashing/video.py`
// and `video_packets.py`.
//
// vPDQ numbers frames in presentation order and hashes frame i when
// i % frameMod == 0, frameMod = floor(secondsPerHash * fps). Here every
// packet's number is its rank among all the packets' presentation times
// (read from the container before decoding), which is the number Meta's vpdq
// gives it by decoding every frame.
//
// In H.264, two kinds of packet need not be decoded (as in Python): a frame
// that is not sampled and that no other frame predicts from (all its slices
// have nal_ref_idc 0, as encoders write most B-frames), and any frame after
// the last sampled one before the next IDR frame, since nothing after an IDR
// refers back across it. Other codecs are decoded whole.

/** Packets held back at most, looking for the next IDR frame (memory bound). */
export const MAX_GROUP = 300;

/**
 * The greatest common divisor and FFmpeg's rational reduction with a bound,
 * written from the continued-fraction definition: the fraction num/den itself
 * if both fit under `max`, else its best convergent (or semiconvergent) that does.
 */
export function reduceRational(num, den, max) {
  let n = BigInt(num);
  let d = BigInt(den);
  const limit = BigInt(max);
  const gcd = (a, b) => (b === 0n ? a : gcd(b, a % b));
  const g = gcd(n, d);
  if (g) {
    n /= g;
    d /= g;
  }
  if (n <= limit && d <= limit) return [Number(n), Number(d)];
  let [p0, q0, p1, q1] = [0n, 1n, 1n, 0n];
  while (d) {
    let x = n / d;
    const next = n - d * x;
    const p2 = x * p1 + p0;
    const q2 = x * q1 + q0;
    if (p2 > limit || q2 > limit) {
      if (p1) x = (limit - p0) / p1;
      if (q1) x = x < (limit - q0) / q1 ? x : (limit - q0) / q1;
      // Take the semiconvergent only if it is closer than the last convergent.
      if (d * (2n * x * q1 + q0) > n * q1) {
        p1 = x * p1 + p0;
        q1 = x * q1 + q0;
      }
      break;
    }
    [p0, q0, p1, q1] = [p1, q1, p2, q2];
    [n, d] = [d, next];
  }
  return [Number(p1), Number(q1)];
}

const INT_MAX = 2147483647;

/**
 * The frame rate FFmpeg reports as the stream's average rate, which Python's
 * video_hash uses: for MP4/MOV, frames x timescale / total duration (the
 * sample table's); for Matroska/WebM, 1e9 / the video track's DefaultDuration
 * in ns. Without one (rare: FFmpeg then estimates from the first frames),
 * frames / duration.
 */
export function averageRate({ matroska, timescale, durations, defaultDurationNs = null }) {
  const count = durations.length;
  if (!count) return 30;
  const usable = ([num, den]) => (num > 0 && den > 0 && num / den < 1000 ? num / den : null);
  let rate = null;
  if (!matroska && Number.isInteger(timescale) && timescale > 0) {
    let ticks = 0;
    for (const seconds of durations) ticks += Math.round(seconds * timescale);
    if (ticks > 0) rate = usable(reduceRational(count * timescale, ticks, INT_MAX));
  } else if (matroska && Number.isInteger(defaultDurationNs) && defaultDurationNs > 0) {
    rate = usable(reduceRational(1e9, defaultDurationNs, 30000));
  }
  if (rate === null) {
    const total = durations.reduce((a, b) => a + b, 0);
    rate = total > 0 ? usable([count, total]) : null;
  }
  return rate ?? 30;
}

// Matroska (EBML) element IDs on the way to a video track's DefaultDuration.
const SEGMENT = 0x18538067;
const TRACKS = 0x1654ae6b;
const TRACK_ENTRY = 0xae;
const TRACK_TYPE = 0x83;
const DEFAULT_DURATION = 0x23e383;
const CLUSTER = 0x1f43b675;

/** An EBML number (ID with its marker bits kept, or size without) at `at`. */
function ebmlNumber(bytes, at, keepMarker) {
  const first = bytes[at];
  if (first === undefined || first === 0) return null;
  let length = 1;
  while (!(first & (0x80 >> (length - 1)))) length++;
  if (at + length > bytes.length) return null;
  let value = keepMarker ? first : first & (0xff >> length);
  let unknown = value === (0xff >> length);
  for (let k = 1; k < length; k++) {
    value = value * 256 + bytes[at + k];
    if (bytes[at + k] !== 0xff) unknown = false;
  }
  return { value: !keepMarker && unknown ? Infinity : value, length };
}

function* ebmlChildren(bytes, start, end) {
  let at = start;
  while (at < end) {
    const id = ebmlNumber(bytes, at, true);
    if (!id) return;
    const size = ebmlNumber(bytes, at + id.length, false);
    if (!size) return;
    const body = at + id.length + size.length;
    yield { id: id.value, body, end: Math.min(end, body + size.value) };
    if (size.value === Infinity) return;
    at = body + size.value;
  }
}

function unsigned(bytes, start, end) {
  let value = 0;
  for (let at = start; at < end; at++) value = value * 256 + bytes[at];
  return value;
}

/**
 * The first video track's DefaultDuration (ns) from the start of a Matroska
 * or WebM file (its Tracks come before the first Cluster), or null.
 */
export function matroskaDefaultDuration(bytes) {
  for (const top of ebmlChildren(bytes, 0, bytes.length)) {
    if (top.id !== SEGMENT) continue;
    for (const part of ebmlChildren(bytes, top.body, top.end)) {
      if (part.id === CLUSTER) return null;
      if (part.id !== TRACKS) continue;
      for (const entry of ebmlChildren(bytes, part.body, part.end)) {
        if (entry.id !== TRACK_ENTRY) continue;
        let type = null;
        let duration = null;
        for (const field of ebmlChildren(bytes, entry.body, entry.end)) {
          if (field.id === TRACK_TYPE) type = unsigned(bytes, field.body, field.end);
          if (field.id === DEFAULT_DURATION) duration = unsigned(bytes, field.body, field.end);
        }
        if (type === 1) return duration || null;
      }
      return null;
    }
  }
  return null;
}

/** Frame numbers (presentation ranks) of packets given in decode order. */
export function ranksOf(timestamps) {
  const order = Array.from(timestamps.keys()).sort((a, b) => timestamps[a] - timestamps[b] || a - b);
  const ranks = new Uint32Array(timestamps.length);
  order.forEach((packet, rank) => {
    ranks[packet] = rank;
  });
  return ranks;
}

/** How H.264 access units are laid out: NAL lengths of `lengthSize` bytes, or start codes (0). */
export function h264LengthSize(description) {
  const data = description ? new Uint8Array(description.buffer || description, description.byteOffset || 0) : null;
  return data && data.length >= 5 && data[0] === 1 ? (data[4] & 3) + 1 : 0;
}

/** The first byte of each NAL unit of an H.264 access unit. */
function nalHeaders(data, lengthSize) {
  const headers = [];
  if (lengthSize) {
    let at = 0;
    while (at + lengthSize < data.length) {
      let size = 0;
      for (let k = 0; k < lengthSize; k++) size = size * 256 + data[at + k];
      at += lengthSize;
      if (size < 1 || at + size > data.length) return []; // malformed: let the decoder see it
      headers.push(data[at]);
      at += size;
    }
    return headers;
  }
  for (let at = 0; at + 3 < data.length; at++) {
    if (data[at] === 0 && data[at + 1] === 0 && data[at + 2] === 1) headers.push(data[at + 3]);
  }
  return headers;
}

/** {idr, disposable} of an H.264 access unit, from its slice NAL headers. */
export function h264Unit(data, lengthSize) {
  const slices = nalHeaders(data, lengthSize).filter((h) => (h & 0x1f) >= 1 && (h & 0x1f) <= 5);
  return {
    idr: slices.some((h) => (h & 0x1f) === 5),
    disposable: slices.length > 0 && slices.every((h) => (h & 0x60) === 0),
  };
}

/**
 * Decides which packets to decode. `push` takes packets in decode order
 * ({rank, idr, reference, item}) and returns the items to decode now;
 * `finish` returns the rest at the end.
 */
export class PacketPlan {
  constructor(frameMod, { skipping }) {
    this.frameMod = frameMod;
    this.skipping = skipping && frameMod > 1;
    this.held = [];
  }

  push(packet) {
    if (!this.skipping) return [packet.item];
    const released = packet.idr ? this.release(true) : [];
    this.held.push(packet);
    if (this.held.length > MAX_GROUP) released.push(...this.release(false));
    return released;
  }

  finish() {
    return this.release(true);
  }

  release(wholeGroup) {
    const held = this.held;
    this.held = [];
    const sampled = (p) => p.rank % this.frameMod === 0;
    let last = held.length - 1;
    if (wholeGroup) {
      last = -1;
      held.forEach((p, position) => {
        if (sampled(p)) last = position;
      });
    }
    return held.filter((p, position) => position <= last && (p.reference || sampled(p))).map((p) => p.item);
  }
}
