// `spatial-mllm doctor`: the table alone on stdout, nothing from native libraries on the terminal, and a reason
// for every provider that does not start.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { nativeLogLines } from '../../src/runtime/probe.ts';
import { DEVICES } from '../../src/runtime/session.ts';

describe('doctor', () => {
  it('prints the table with a reason per unavailable provider and nothing on stderr', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/apps/cli.ts', 'doctor'], {
      encoding: 'utf8',
      timeout: 180_000,
    });
    assert.equal(r.status, 0, r.stderr);
    // Dawn's Vulkan warnings and ONNX Runtime's provider-bridge error used to land here.
    assert.equal(r.stderr, '');
    assert.ok(!r.stdout.includes('\x1b'), 'no ANSI colour codes');
    assert.match(r.stdout, /^node {10}v\d+/);
    for (const device of DEVICES) {
      const row = new RegExp(
        `^  ${device} +(ok|unavailable) \\((bundled|separate install)\\)(.*)$`,
        'm',
      ).exec(r.stdout);
      assert.ok(row, `no row for ${device}:\n${r.stdout}`);
      if (row[1] === 'unavailable') assert.match(row[3], /^: \S.{10,}/, `${device} has no reason`);
    }
    assert.match(r.stdout, /^ {2}cpu +ok/m);
  });
});

describe('nativeLogLines', () => {
  it('keeps one readable line per native message', () => {
    // As printed by onnxruntime-node 1.30 on a machine without Vulkan and without the CUDA provider.
    const dawn =
      "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory\n" +
      '    at operator() (/build/Release/_deps/dawn-src/src/dawn/native/vulkan/BackendVk.cpp:368)\n\n';
    const ort =
      '\x1b[1;31m2026-12-03 07:30:06.400874623 [E:onnxruntime:onnxruntime-node, provider_bridge_ort.cc:2146 Create] ' +
      '/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1988 onnxruntime::Provider& ' +
      'onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library ' +
      '/x/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_shared.so with error: ' +
      '/x/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_shared.so: cannot open ' +
      'shared object file: No such file or directory\n\x1b[m\n';
    assert.deepEqual(nativeLogLines(dawn), [
      "Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory",
    ]);
    assert.deepEqual(nativeLogLines(ort), [
      'Failed to load libonnxruntime_providers_shared.so: cannot open shared object file: No such file or directory',
    ]);
    assert.deepEqual(nativeLogLines('error: XDG_RUNTIME_DIR not set in the environment.\n'), [
      'error: XDG_RUNTIME_DIR not set in the environment.',
    ]);
    assert.deepEqual(nativeLogLines(`${dawn}${dawn}`).length, 1);
    assert.deepEqual(nativeLogLines(''), []);
  });
});
