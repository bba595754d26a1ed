// What the hashing worker makes of a video: its MD5 (finds exact copies) and,
// where this browser can decode it, its vPDQ (finds re-encoded, resized or
// cut copies), with the picture inside any bars as a second vPDQ, as the CLI
// sends them. Where the browser cannot decode the video, the MD5 alone, and
// the reason (`partial`), so the page can say so plainly.
import { createMD5 } from "./vendor/hash-wasm.mjs";
import { videoHash } from "./video.js";
import { vpdqCompact } from "./vpdq.js";

const CHUNK = 8 * 1024 * 1024;
/** The registry refuses a vPDQ hash with no frame of this quality (it would match anything). */
const MIN_QUALITY = 50;
/** Share of the progress bar the MD5 pass takes (reading is quicker than decoding). */
const MD5_SHARE = 0.15;

/**
 * {hashes: [{type, value}], partial: null | reason} for a video file.
 * `progress(percent)` gets whole percents, 0-100.
 */
export async function videoHashes(file, progress) {
  let last = -1;
  const report = (share) => {
    const percent = Math.min(100, Math.floor(share * 100));
    if (percent !== last) {
      last = percent;
      progress(percent);
    }
  };
  const md5 = await md5Of(file, (share) => report(share * MD5_SHARE));
  const hashes = [{ type: "md5", value: md5 }];
  let partial = null;
  try {
    const video = await videoHash(file, { onProgress: (share) => report(MD5_SHARE + share * (1 - MD5_SHARE)) });
    for (const frames of [video.frames, video.cropped]) {
      if (frames.some((f) => f.quality >= MIN_QUALITY)) {
        hashes.push({ type: "vpdq", value: vpdqCompact(frames, video.fps) });
      }
    }
    if (hashes.length === 1) partial = "unfit";
  } catch (error) {
    partial = (error && error.code) || "unreadable";
  }
  report(1);
  return { hashes, partial };
}

/** MD5 of a file, read in chunks so a 2 GB video never needs 2 GB of memory. */
export async function md5Of(file, progress = () => {}) {
  const md5 = await createMD5();
  md5.init();
  for (let offset = 0; offset < file.size; offset += CHUNK) {
    const chunk = new Uint8Array(await file.slice(offset, offset + CHUNK).arrayBuffer());
    md5.update(chunk);
    progress((offset + chunk.length) / file.size);
  }
  return md5.digest("hex");
}
