// Probing an execution provider in a child process. Starting WebGPU or CUDA makes native code write to the
// process's stderr (Dawn's Vulkan and XDG_RUNTIME_DIR warnings, ONNX Runtime's provider-bridge error in ANSI
// colour), which no JS log level reaches. A child with its stderr captured keeps that off the terminal, and the
// useful lines come back as reasons. A probe that crashes or hangs the child cannot take the caller down with it.
import { spawn } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { type Device, probeDevice } from './session.ts';

export interface ProbeResult {
  ok: boolean;
  /** Why the provider did not start (our message, with the fix). */
  error?: string;
  /** What native code printed while trying, one concise line per message. */
  log: string[];
}

const MARK = 'spatial-mllm-probe:';
const TIMEOUT_MS = 60_000;

/** The readable lines of a native log: no ANSI colours, timestamps, source locations or stack lines. */
export function nativeLogLines(stderr: string): string[] {
  const out: string[] = [];
  for (const raw of stripVTControlCharacters(stderr).split('\n')) {
    let line = raw.trim();
    if (line === '' || /^at /.test(line)) continue;
    // ONNX Runtime: "2026-… [E:onnxruntime:…, file.cc:123 Fn] /path/file.cc:456 Signature [ONNXRuntimeError] : 1 : FAIL : text"
    const ortText = /\[ONNXRuntimeError\] : \d+ : \w+ : (.*)$/.exec(line)?.[1];
    if (ortText) line = ortText;
    else line = line.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \[[A-Z]:[^\]]*\]\s*/, '');
    // Absolute paths of libraries say nothing the file name does not.
    line = line.replace(/\/(?:[\w.+-]+\/)+([\w.+-]+\.so[\w.]*)/g, '$1');
    // "Failed to load library X with error: X: cannot open shared object file" names X twice.
    line = line.replace(/^Failed to load library (\S+) with error: \1: /, 'Failed to load $1: ');
    line = line.replace(/^Warning: /i, '');
    if (!out.includes(line)) out.push(line);
  }
  return out;
}

/** Starts a one-node session on `device` in a child process; never throws. */
export function probeDeviceIsolated(device: Device, model: Uint8Array): Promise<ProbeResult> {
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); }).then((m) => m.probeChild(${JSON.stringify(device)}))`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', boot], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const log = nativeLogLines(stderr);
      const line = stdout.split('\n').find((l) => l.startsWith(MARK));
      if (line) {
        const r = JSON.parse(line.slice(MARK.length)) as { ok: boolean; error?: string };
        resolve({ ...r, log });
      } else {
        const how =
          signal === 'SIGKILL'
            ? `did not answer within ${TIMEOUT_MS / 1000} s`
            : `exited (${signal ?? code})`;
        resolve({ ok: false, error: `the ${device} probe ${how}`, log });
      }
    });
    child.stdin.end(Buffer.from(model.buffer, model.byteOffset, model.byteLength));
  });
}

/** Child side: the model comes on stdin, one marked JSON line goes to stdout. */
export async function probeChild(device: Device): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const r = await probeDevice(device, new Uint8Array(Buffer.concat(chunks)));
  // Exit explicitly: a provider's native threads may otherwise keep the child alive.
  process.stdout.write(`${MARK}${JSON.stringify(r)}\n`, () => process.exit(0));
}
