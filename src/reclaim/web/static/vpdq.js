// vPDQ hash values as the registry reads them (`reclaim/hashing/vpdq_format.py`
// and `vpdq_compact.py`): Meta's text lines, and our compact `vpdq1:` form,
// which is what the page sends (about 60% of the text's size).
//
// A frame here is {index, hex, quality}; its timestamp is index / fps,
// written to the millisecond as Python's f"{t:.3f}" does.

const PREFIX = "vpdq1:";

/**
 * A timestamp in whole milliseconds, rounded as Python formats "%.3f": the
 * exact binary value to the nearest, a tie to the even neighbour. toFixed
 * rounds the exact value too, but takes the larger on a tie; a double sits
 * exactly halfway between two milliseconds only when it is an odd number of
 * sixteenths (k/2000 with k odd is a binary fraction only if 125 divides k).
 */
export function millisOf(seconds) {
  const sixteenths = seconds * 16; // exact: a power of two
  if (Number.isInteger(sixteenths) && sixteenths % 2 === 1) {
    const floor = Math.floor(seconds * 1000); // n * 62.5, exact
    return floor % 2 === 0 ? floor : floor + 1;
  }
  return Math.round(Number(seconds.toFixed(3)) * 1000);
}

/** Meta's text format: "frame,quality,hex,seconds" lines, newline-terminated. */
export function vpdqText(frames, fps) {
  return frames
    .map((f) => {
      const millis = millisOf(f.index / fps);
      const whole = Math.floor(millis / 1000);
      const rest = String(millis % 1000).padStart(3, "0");
      return `${f.index},${f.quality},${f.hex},${whole}.${rest}\n`;
    })
    .join("");
}

function varint(value, out) {
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

const zigzag = (value) => (value >= 0 ? value * 2 : -value * 2 - 1);

function base64url(bytes) {
  let binary = "";
  for (let at = 0; at < bytes.length; at += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The compact form: "vpdq1:" and base64url of the packed frames. */
export function vpdqCompact(frames, fps) {
  const body = [];
  varint(frames.length, body);
  let numberBefore = 0;
  let millisBefore = 0;
  let stepBefore = 0;
  for (const f of frames) {
    const millis = millisOf(f.index / fps);
    varint(f.index - numberBefore, body);
    body.push(f.quality);
    for (let k = 0; k < 64; k += 2) body.push(parseInt(f.hex.slice(k, k + 2), 16));
    const step = millis - millisBefore;
    varint(zigzag(step - stepBefore), body);
    numberBefore = f.index;
    millisBefore = millis;
    stepBefore = step;
  }
  return PREFIX + base64url(Uint8Array.from(body));
}
