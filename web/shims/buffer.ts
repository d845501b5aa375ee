// Node's global Buffer for the in-tab bundle (esbuild `inject`): a few module-level constants of the pipeline's
// imports are Buffers.
export { Buffer } from 'buffer';
