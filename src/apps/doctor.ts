// `spatial-mllm doctor`: what this machine can run. Each execution provider is probed by starting a real
// session on a one-node graph, so "available" means it works, not just that it is compiled in. Probes run in child
// processes (src/runtime/probe.ts): what native libraries print while trying becomes a `log:` line under the
// provider instead of noise before the table.
import { cpus, freemem, totalmem } from 'node:os';
import { Graph, mul, toOnnx } from '../engine/index.ts';
import { probeDeviceIsolated } from '../runtime/probe.ts';
import { DEVICES, listBackends, ortVersion } from '../runtime/session.ts';

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
  const probes = await Promise.all(DEVICES.map((d) => probeDeviceIsolated(d, model)));
  DEVICES.forEach((device, i) => {
    const probe = probes[i];
    const where = bundled.get(device) ? 'bundled' : 'separate install';
    lines.push(
      `  ${device.padEnd(8)}${probe.ok ? 'ok' : 'unavailable'} (${where})${probe.ok ? '' : `: ${probe.error}`}`,
    );
    for (const l of probe.log) lines.push(`${' '.repeat(10)}log: ${l}`);
  });
  return `${lines.join('\n')}\n`;
}
