// onnxruntime-node's default export, served by onnxruntime-web in a tab (WASM; WebGPU where the browser has it).
import * as ort from 'onnxruntime-web';

export default ort;
