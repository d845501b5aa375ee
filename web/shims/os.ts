// node:os for the in-tab model: nothing is written, so these only need to be strings.
export const tmpdir = () => '/tmp';
export const homedir = () => '/home';
// Sessions default their intra-op threads to this (onnxruntime-web takes its thread count from ort.env.wasm instead).
export const availableParallelism = () => globalThis.navigator?.hardwareConcurrency ?? 1;
