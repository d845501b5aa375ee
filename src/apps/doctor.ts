// `spatial-mllm doctor`: what this machine can run. Each execution provider is probed by starting a real
// session on a one-node graph, so "available" means it works, not just that it is compiled in.
import { cpus, freemem, totalmem } from 'node:os';
import { Graph, mul, toOnnx } from '../engine/index.ts';
import { DEVICES, listBackends, ortVersion, probeDevice } from '../runtime/session.ts';

const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;

export async function doctorReport(): Promise<string> {
  const g = new Graph('probe');
  g.output('y', mul(g.input('x', 'float32', [1]), 2));
  const model = toOnnx(g).bytes;
  const bundled = new Map(listBackends().map((b) => [b.name, b.bundled]));
  const lines = [
    `node          ${process.version} (${process.platform}-${process.arch})`,
    `onnxruntime   ${ortVersion()}`,
    `cpu cores     ${cpus().length} (${cpus()[0]?.model ?? 'unknown'})`,
    `memory        ${gib(totalmem())} total, ${gib(freemem())} free`,
    'execution providers:',
  ];
  for (const device of DEVICES) {
    const probe = await probeDevice(device, model);
    const where = bundled.get(device) ? 'bundled' : 'separate install';
    lines.push(
      `  ${device.padEnd(8)}${probe.ok ? 'ok' : 'unavailable'} (${where})${probe.ok ? '' : `: ${probe.error}`}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
