// vPDQ of a video in the browser: demuxed by Mediabunny (MP4, MOV, WebM,
// Matroska; served from this site), decoded by WebCodecs' VideoDecoder,
// sampled and hashed as `reclaim.hashing.video_hash` does, so the hash
// matches the one the Python tools make of the same file.
//
// Frames: one every floor(fps) frames (one a second), numbered in
// presentation order (`video-plan.js`); each is PDQ-hashed with `pdq.js` on
// its RGB pixels. If the sampled frames show the same solid bars, the picture
// inside them is hashed too (`video-bars.js`). Nothing leaves the device.
import { ALL_FORMATS, BlobSource, EncodedPacketSink, Input, MATROSKA, WEBM } from "./vendor/mediabunny.mjs";
import { PdqPool } from "./pdq-pool.js";
import { Letterbox } from "./video-bars.js";
import {
  averageRate,
  h264LengthSize,
  h264Unit,
  matroskaDefaultDuration,
  PacketPlan,
  ranksOf,
} from "./video-plan.js";

/** Longest video hashed (as Python: 10 hours). */
export const MAX_SECONDS = 10 * 3600;
/** Largest frame, in pixels (8K is 33 MP). */
export const MAX_FRAME_PIXELS = 40_000_000;
/** Most sampled frames (as the registry accepts). */
export const MAX_FRAMES = 36_000;
/** The smallest side PDQ hashes. */
const MIN_DIMENSION = 5;
/** Chunks queued in the decoder at most (keeps memory flat). */
const QUEUE = 24;
/** Decoding gives up after this many packets the decoder refuses (as Python). */
const MAX_BAD_PACKETS = 100;
/** Bytes read from a Matroska file's start to find its track headers. */
const HEAD_BYTES = 1 << 20;

/** An error the page can name: `code` is one of the reasons in `REASONS`. */
export class VideoError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** Why a video got no vPDQ: no WebCodecs, a codec it cannot decode, a file it cannot read, too big. */
export const REASONS = Object.freeze(["nodecoder", "codec", "unreadable", "toolarge"]);

/**
 * The vPDQ frames of `file` (a File or Blob).
 * Returns {fps, frames: [{index, hex, quality}], cropped: [...], box, timings}
 * (timings: ms spent copying and hashing sampled frames, frames decoded).
 * `onProgress(share)` gets 0..1; `helpers` is how many PDQ helper workers
 * (default: pdq-pool.js's poolSize(); 0 hashes on this thread). Throws VideoError.
 */
export async function videoHash(file, { onProgress = () => {}, secondsPerHash = 1, helpers } = {}) {
  if (typeof VideoDecoder === "undefined") {
    throw new VideoError("nodecoder", "this browser has no WebCodecs VideoDecoder");
  }
  const input = new Input({ source: new BlobSource(file), formats: ALL_FORMATS });
  try {
    return await hashInput(file, input, { onProgress, secondsPerHash, helpers });
  } catch (error) {
    if (error instanceof VideoError) throw error;
    throw new VideoError("unreadable", String((error && error.message) || error));
  } finally {
    input.dispose();
  }
}

async function headDefaultDuration(file) {
  return matroskaDefaultDuration(new Uint8Array(await file.slice(0, HEAD_BYTES).arrayBuffer()));
}

async function hashInput(file, input, options) {
  // Sampled frames are hashed on helper workers (pdq-pool.js) while this
  // thread keeps the decoder fed. If a helper fails, hash again on this
  // thread alone: slower, the same hashes.
  for (const size of [options.helpers, 0]) {
    const pool = new PdqPool(size);
    try {
      return await hashTrack(file, input, pool, options);
    } catch (error) {
      if (!pool.failure || size === 0) throw error;
    } finally {
      pool.close();
    }
  }
}

async function hashTrack(file, input, pool, { onProgress, secondsPerHash }) {
  let format;
  let track;
  try {
    format = await input.getFormat();
    track = (await input.getVideoTracks())[0];
  } catch (error) {
    throw new VideoError("unreadable", `not a video this page can read: ${error && error.message}`);
  }
  if (!track) throw new VideoError("unreadable", "the file has no video track");
  const config = await track.getDecoderConfig();
  if (!config) throw new VideoError("codec", `the codec ${await track.getCodec()} has no WebCodecs decoder`);
  const support = await VideoDecoder.isConfigSupported(config).catch(() => ({ supported: false }));
  if (!support.supported) throw new VideoError("codec", `this browser cannot decode ${config.codec}`);
  const width = track.codedWidth;
  const height = track.codedHeight;
  if (Math.min(width, height) < MIN_DIMENSION) throw new VideoError("unreadable", `frames of ${width}x${height} are too small`);
  if (width * height > MAX_FRAME_PIXELS) throw new VideoError("toolarge", `frames of ${width}x${height} are too large`);

  // Pass 1: every packet's presentation time and duration (the sample table
  // for MP4; block headers for WebM), to number frames and find the rate.
  const sink = new EncodedPacketSink(track);
  const times = [];
  const durations = [];
  for await (const packet of sink.packets(undefined, undefined, { metadataOnly: true })) {
    times.push(packet.timestamp);
    durations.push(packet.duration);
  }
  if (!times.length) throw new VideoError("unreadable", "the video track has no frames");
  // A loop, not Math.max(...): a long video has more packets than a call takes arguments.
  let first = Infinity;
  let end = -Infinity;
  for (let k = 0; k < times.length; k++) {
    first = Math.min(first, times[k]);
    end = Math.max(end, times[k] + durations[k]);
  }
  const seconds = end - first;
  if (seconds > MAX_SECONDS) throw new VideoError("toolarge", `the video lasts ${(seconds / 3600).toFixed(2)} hours`);
  const matroska = format === MATROSKA || format === WEBM;
  const defaultDurationNs = matroska ? await headDefaultDuration(file) : null;
  const fps = averageRate({ matroska, timescale: track.timeResolution, durations, defaultDurationNs });
  const frameMod = Math.max(1, Math.floor(secondsPerHash * fps));
  const ranks = ranksOf(times);
  const total = times.length;

  const h264 = config.codec.startsWith("avc1") || config.codec.startsWith("avc3");
  const lengthSize = h264 ? h264LengthSize(config.description) : 0;
  const plan = new PacketPlan(frameMod, { skipping: h264 });

  const frames = [];
  // At most `ahead` sampled frames wait for the helper workers.
  const ahead = 2 * Math.max(1, pool.workers.length);
  const jobs = [];
  const bars = new Letterbox((pixels, width, height) => pool.hash(pixels, width, height));
  // Where this thread's time goes (ms): RGBA copies, bars; frames decoded.
  const timings = { copy: 0, bars: 0, decoded: 0 };
  let failure = null;
  let chain = Promise.resolve();
  const take = async (frame) => {
    try {
      const rank = frame.timestamp;
      if (failure) return;
      if (jobs.length >= MAX_FRAMES) throw new VideoError("toolarge", `over ${MAX_FRAMES} sampled frames`);
      const rect = frame.visibleRect;
      const pixels = new Uint8ClampedArray(rect.width * rect.height * 4);
      const copying = performance.now();
      await frame.copyTo(pixels, { format: "RGBA", colorSpace: "srgb" });
      frame.close();
      const barring = performance.now();
      // The bars first: they keep copies of what they need, then the pixels
      // go to a helper worker.
      bars.add(rank, pixels, rect.width, rect.height);
      jobs.push(
        pool.hash(pixels, rect.width, rect.height).then((hashed) => {
          if (hashed) frames.push({ index: rank, ...hashed });
        }),
      );
      timings.copy += barring - copying;
      timings.bars += performance.now() - barring;
      await pool.room(ahead);
      onProgress(Math.min(rank / total, 1));
    } catch (error) {
      failure = failure || error;
    } finally {
      frame.close();
    }
  };
  // A packet the decoder refuses closes it (WebCodecs), with the packets
  // still in it. Start a new decoder, send those again from the first key
  // frame after the oldest (the refused packet is among them), losing the
  // frames in between, as Python passes over bad packets; after
  // MAX_BAD_PACKETS refusals, give up.
  let bad = 0;
  let broken = false;
  let waitForKey = false;
  const inflight = []; // sent to this decoder, not yet out of it, in decode order
  const makeDecoder = () => {
    const made = new VideoDecoder({
      output: (frame) => {
        timings.decoded += 1;
        const at = inflight.findIndex((item) => item.rank === frame.timestamp);
        if (at >= 0) inflight.splice(at, 1);
        // Frames not sampled go back to the decoder at once.
        if (frame.timestamp % frameMod !== 0 || failure) frame.close();
        else chain = chain.then(() => take(frame));
      },
      error: (error) => {
        broken = true;
        bad += 1;
        if (bad > MAX_BAD_PACKETS) {
          failure = failure || new VideoError("unreadable", `the video cannot be decoded: ${error.message}`);
        }
      },
    });
    made.configure(config);
    return made;
  };
  let decoder = makeDecoder();
  const restart = async () => {
    broken = false;
    const lost = inflight.splice(0);
    if (decoder.state !== "closed") decoder.close();
    decoder = makeDecoder();
    waitForKey = true;
    await send(lost.slice(1));
  };
  const send = async (items) => {
    for (const item of items) {
      if (failure) return;
      if (broken || decoder.state === "closed") await restart();
      if (waitForKey && !item.key) continue;
      waitForKey = false;
      inflight.push(item);
      // The timestamp carries the frame's number through the decoder.
      const type = item.key ? "key" : "delta";
      decoder.decode(new EncodedVideoChunk({ type, timestamp: item.rank, data: item.packet.data }));
      while (decoder.decodeQueueSize > QUEUE && decoder.state === "configured" && !failure) {
        await new Promise((resolve) => decoder.addEventListener("dequeue", resolve, { once: true }));
      }
    }
  };

  let number = 0;
  try {
    for await (const packet of sink.packets()) {
      const rank = ranks[number++];
      if (rank === undefined) break; // more packets than the first pass saw
      const unit = h264 ? h264Unit(packet.data, lengthSize) : { idr: packet.type === "key", disposable: false };
      const key = h264 ? unit.idr : packet.type === "key";
      const item = { packet, rank, key };
      await send(plan.push({ rank, idr: unit.idr, reference: !unit.disposable, item }));
      if (failure) break;
    }
    if (!failure) await send(plan.finish());
    while (!failure) {
      if (decoder.state === "configured") await decoder.flush().catch(() => {});
      if (!(broken || (decoder.state === "closed" && inflight.length))) break;
      await restart(); // refused near the end: send what is left again
    }
    await chain;
  } finally {
    if (decoder.state !== "closed") decoder.close();
  }
  await Promise.all(jobs);
  const { box, frames: cropped } = await bars.result();
  if (pool.failure) throw pool.failure;
  if (failure) throw failure instanceof VideoError ? failure : new VideoError("unreadable", String(failure.message || failure));
  if (!frames.length) throw new VideoError("unreadable", "no frame of the video could be hashed (blank throughout)");
  frames.sort((a, b) => a.index - b.index);
  onProgress(1);
  return { fps, frames, cropped, box, timings };
}
