// PDQ of video frames on several cores: a few helper workers (pdq-worker.js)
// take frames in turn. Where workers cannot be made here, frames are hashed
// on this thread instead: the same hashes, only slower.
import { frameHash } from "./video-bars.js";

/** Helper workers: the cores left beside the decoder and this thread, up to 4. */
export function poolSize() {
  const cores = (typeof navigator !== "undefined" && navigator.hardwareConcurrency) || 1;
  return Math.max(1, Math.min(4, cores - 1));
}

export class PdqPool {
  constructor(size = poolSize()) {
    this.workers = [];
    this.waiting = new Map();
    this.roomWaiters = [];
    this.next = 0;
    this.failure = null;
    try {
      for (let k = 0; k < size; k++) {
        const worker = new Worker(new URL("./pdq-worker.js", import.meta.url), { type: "module" });
        worker.onmessage = ({ data }) => this.settle(data.id, data.hash);
        worker.onerror = (event) => {
          this.failure = this.failure || new Error(event.message || "a PDQ worker failed");
          for (const id of [...this.waiting.keys()]) this.settle(id, null);
        };
        this.workers.push(worker);
      }
    } catch {
      this.close(); // no nested workers here: hash on this thread
    }
  }

  /** Frames handed out and not yet hashed. */
  get pending() {
    return this.waiting.size;
  }

  /** {hex, quality} or null of RGBA pixels; `pixels` is handed over (transferred). */
  hash(pixels, width, height) {
    if (!this.workers.length) return Promise.resolve(frameHash(pixels, width, height));
    const id = this.next++;
    const worker = this.workers[id % this.workers.length];
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage({ id, pixels: pixels.buffer, width, height }, [pixels.buffer]);
    });
  }

  /** Resolves once at most `limit` frames are waiting (backpressure). */
  room(limit) {
    if (this.waiting.size <= limit) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push({ limit, resolve }));
  }

  settle(id, hash) {
    const resolve = this.waiting.get(id);
    if (!resolve) return;
    this.waiting.delete(id);
    resolve(hash);
    const ready = this.roomWaiters.filter((w) => this.waiting.size <= w.limit);
    this.roomWaiters = this.roomWaiters.filter((w) => this.waiting.size > w.limit);
    for (const waiter of ready) waiter.resolve();
  }

  close() {
    for (const worker of this.workers) worker.terminate();
    this.workers = [];
    for (const id of [...this.waiting.keys()]) this.settle(id, null);
  }
}
