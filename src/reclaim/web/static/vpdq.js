// vPDQ hash values as the registry reads them (`reclaim/hashing/vpdq_format.py`
// and `vpdq_compact.py`): Meta's text lines, and our compact `vpdq1:` form,
// which is what the page sends (about 60% of the text's size).
//
// A frame here is {index, hex, quality}; its timestamp is index / fps,
// written to the millisecond as Python's f"{t:.3f}" does.

const PREFIX = "vpdq1:";

/**
 * A timestamp in whole milliseconds, rounded as Python formats "%.3f": to the
 * nearest, and a tie (exactly representable) to the even neighbour. JavaScript's
 * toFixed would take the larger one on a tie.
 */
export function millisOf(seconds) {
  const scaled = seconds * 1000;
  const floor = Math.floor(scaled);
  const twice = seconds * 2000;
  // A tie: seconds * 2000 is an odd whole number, exactly.
  if (Number.isInteger(twice) && twice % 2 === 1 && twice / 2000 === seconds) {
    return floor % 2 === 0 ? floor : floor + 1;
  }
  return Number((seconds).toFixed(3).replace(".", ""));
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
