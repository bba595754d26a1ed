// Copies the browser libraries the web app serves itself into its static
// folder (never loaded from a CDN), with their licences; and Swagger UI into
// reclaim.apidocs, for the registry's and the matcher's /docs.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, "..", "src", "reclaim", "web", "static", "vendor");
mkdirSync(vendor, { recursive: true });

const files = [
  ["hash-wasm/dist/index.esm.min.js", "hash-wasm.mjs"],
  ["hash-wasm/LICENSE", "hash-wasm.LICENSE.txt"],
  ["libheif-js/libheif-wasm/libheif-bundle.mjs", "libheif.mjs"],
  ["libheif-js/libheif-wasm/LICENSE", "libheif.LICENSE.txt"],
  // MP4/MOV and WebM/Matroska demuxing for WebCodecs (the worker's vPDQ).
  ["mediabunny/dist/bundles/mediabunny.min.mjs", "mediabunny.mjs"],
  ["mediabunny/LICENSE", "mediabunny.LICENSE.txt"],
];
for (const [from, to] of files) {
  copyFileSync(join(here, "node_modules", from), join(vendor, to));
}
console.log(`vendored ${files.length} files into ${vendor}`);

const docs = join(here, "..", "src", "reclaim", "apidocs", "vendor");
mkdirSync(docs, { recursive: true });
const swagger = [
  ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"],
  ["swagger-ui-dist/swagger-ui.css", "swagger-ui.css"],
  ["swagger-ui-dist/LICENSE", "swagger-ui.LICENSE.txt"],
  ["swagger-ui-dist/NOTICE", "swagger-ui.NOTICE.txt"],
];
for (const [from, to] of swagger) {
  copyFileSync(join(here, "node_modules", from), join(docs, to));
}
console.log(`vendored ${swagger.length} files into ${docs}`);
