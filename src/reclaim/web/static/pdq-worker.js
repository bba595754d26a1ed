// A helper worker of the video hashing worker: PDQ of one frame's RGBA
// pixels at a time, so sampled frames are hashed on other cores while the
// video worker keeps the decoder fed. It makes no network requests.
import { frameHash } from "./video-bars.js";

self.onmessage = ({ data: { id, pixels, width, height } }) => {
  self.postMessage({ id, hash: frameHash(new Uint8ClampedArray(pixels), width, height) });
};
