// Web Worker that turns a chosen file into hashes, off the page's main thread.
// Images: decoded upright (EXIF orientation applied, as the Python side does)
// and hashed with our PDQ. HEIC/HEIF, which Chromium cannot decode, goes
// through libheif (WebAssembly, served from this site). Videos: MD5 and vPDQ
// (video-job.js: demuxed by Mediabunny, decoded by WebCodecs, sampled as the
// Python side samples). Nothing leaves the device from here: this worker
// makes no network requests.
import { submissionHashes } from "./expansion.js";
import { videoHashes } from "./video-job.js";

const PREVIEW = 160;
const HEIF_BRANDS = ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avci"];

self.onmessage = async (event) => {
  const { id, file } = event.data;
  try {
    if (file.size === 0) throw Object.assign(new Error("the file is empty"), { code: "empty" });
    const kind = await kindOf(file);
    if (kind === "video") {
      // MD5, and vPDQ where this browser can decode the video (video-job.js);
      // `partial` names why a video got an MD5 only.
      const { hashes, partial } = await videoHashes(file, (percent) => post(id, { type: "progress", percent }));
      post(id, { type: "result", kind, hashes, partial });
    } else if (kind === "image" || kind === "heif") {
      const pixels = kind === "heif" ? await decodeHeif(file) : await decodeImage(file);
      let hashed;
      try {
        // The whole image first, then derived views (crops, small turns) so
        // that edited copies still match; the same list Python computes.
        hashed = submissionHashes(pixels);
      } catch (error) {
        // Too small, or one flat colour: no usable fingerprint.
        const failure = new Error(String(error && error.message));
        failure.code = "unfit";
        throw failure;
      }
      const { quality } = hashed[0];
      const preview = kind === "heif" ? await previewOf(pixels) : null;
      post(id, {
        type: "result",
        kind: "image",
        quality,
        hashes: hashed.map(({ hex, quality }) => ({ type: "pdq", value: hex, quality })),
        preview,
      });
    } else {
      post(id, { type: "error", code: "unsupported" });
    }
  } catch (error) {
    const code = error && error.code ? error.code : "failed";
    post(id, { type: "error", code, message: String((error && error.message) || error) });
  }
};

function post(id, message) {
  self.postMessage({ id, ...message });
}

async function kindOf(file) {
  const head = new Uint8Array(await file.slice(0, 32).arrayBuffer());
  const brand = String.fromCharCode(...head.slice(8, 12));
  const box = String.fromCharCode(...head.slice(4, 8));
  if (box === "ftyp" && HEIF_BRANDS.includes(brand)) return "heif";
  if (box === "ftyp" && (brand === "avif" || brand === "avis")) return "image";
  if (file.type.startsWith("image/")) return "image";
  if (file.type.startsWith("video/")) return "video";
  if (box === "ftyp") return "video"; // mp4, mov, 3gp
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) {
    return "video"; // Matroska / WebM
  }
  if (String.fromCharCode(...head.slice(0, 4)) === "RIFF" && String.fromCharCode(...head.slice(8, 11)) === "AVI") {
    return "video";
  }
  return "image"; // let the decoder decide, and say why if it cannot
}

async function decodeImage(file) {
  let bitmap;
  try {
    // colorSpaceConversion "none": like Pillow, ignore embedded ICC profiles.
    bitmap = await createImageBitmap(file, {
      imageOrientation: "from-image",
      colorSpaceConversion: "none",
    });
  } catch (error) {
    // A photo format the browser decodes that still fails is damaged or cut
    // short (an interrupted download or copy); anything else is unsupported.
    const failure = new Error("not a readable image");
    failure.code = (await isDecodableImage(file)) ? "damaged" : "unreadable";
    throw failure;
  }
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

// The signatures of formats Chromium decodes: JPEG, PNG, GIF, WebP, BMP, AVIF.
async function isDecodableImage(file) {
  const head = new Uint8Array(await file.slice(0, 16).arrayBuffer());
  const text = (from, to) => String.fromCharCode(...head.slice(from, to));
  return (
    (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) ||
    text(1, 4) === "PNG" ||
    text(0, 4) === "GIF8" ||
    (text(0, 4) === "RIFF" && text(8, 12) === "WEBP") ||
    text(0, 2) === "BM" ||
    (text(4, 8) === "ftyp" && ["avif", "avis"].includes(text(8, 12)))
  );
}

let heifModule = null;

async function decodeHeif(file) {
  try {
    if (!heifModule) {
      const factory = (await import("./vendor/libheif.mjs")).default;
      heifModule = await factory();
    }
    const decoder = new heifModule.HeifDecoder();
    const images = decoder.decode(new Uint8Array(await file.arrayBuffer()));
    if (!images || images.length === 0) throw new Error("no image in the file");
    const image = images[0];
    const width = image.get_width();
    const height = image.get_height();
    const target = { data: new Uint8ClampedArray(width * height * 4), width, height };
    await new Promise((resolve, reject) => {
      image.display(target, (done) => (done ? resolve() : reject(new Error("decode failed"))));
    });
    for (const each of images) each.free && each.free();
    return target;
  } catch (error) {
    const failure = new Error(String(error && error.message ? error.message : error));
    failure.code = "heic";
    throw failure;
  }
}

async function previewOf(pixels) {
  const scale = Math.min(1, PREVIEW / Math.max(pixels.width, pixels.height));
  const full = new OffscreenCanvas(pixels.width, pixels.height);
  full.getContext("2d").putImageData(new ImageData(pixels.data, pixels.width, pixels.height), 0, 0);
  const small = new OffscreenCanvas(
    Math.max(1, Math.round(pixels.width * scale)),
    Math.max(1, Math.round(pixels.height * scale)),
  );
  small.getContext("2d").drawImage(full, 0, 0, small.width, small.height);
  return small.convertToBlob({ type: "image/jpeg", quality: 0.7 });
}
