// Node-only modules the in-tab model's imports mention but never call there (ffmpeg decoding, PNG/JPEG files,
// child processes): any use fails with a clear message.
const unavailable = (): never => {
  throw new Error(
    'this part of the pipeline (video files, PNG/JPEG files) runs in Node only, not in a browser tab',
  );
};
const handler: ProxyHandler<object> = { get: () => unavailable, apply: unavailable };
const stub = new Proxy(function stub() {}, handler);
export default stub;
export const spawn = unavailable;
export const PNG = stub;
export const path = '';
// node:worker_threads: a tab runs sessions on its own thread (onnxruntime-web manages its WASM workers).
export const isMainThread = true;
export const workerData = undefined;
export const parentPort = null;
export const Worker = stub;
