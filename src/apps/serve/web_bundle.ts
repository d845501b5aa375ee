// The web app (web/) bundled with esbuild when the server starts, in memory: nothing built is committed, and
// the page always matches the sources. Two bundles: the page (app.js) and, loaded on demand, the model in a tab
// (tab.js): the pipeline from src/ with node:fs / node:crypto / node:os / onnxruntime-node replaced by the
// browser shims in web/shims/ (an in-memory file system, SHA-256 in JS, onnxruntime-web).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

export interface WebApp {
  html: string;
  js: string;
  css: string;
  tab: string;
}

export const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web');
const shim = (name: string) => join(WEB_DIR, 'shims', `${name}.ts`);

/** Node modules → their browser stand-ins (the pipeline only reads files and hashes graphs in a tab). */
const BROWSER_SHIMS: Record<string, string> = {
  'node:fs': shim('fs'),
  'node:crypto': shim('crypto'),
  'node:os': shim('os'),
  'node:path': 'path-browserify',
  'onnxruntime-node': shim('ort'),
  'node:child_process': shim('unavailable'),
  'node:worker_threads': shim('unavailable'),
  '@ffmpeg-installer/ffmpeg': shim('unavailable'),
  '@ffprobe-installer/ffprobe': shim('unavailable'),
  pngjs: shim('unavailable'),
  'jpeg-js': shim('unavailable'),
};

const browserShims: Plugin = {
  name: 'browser-shims',
  setup(b) {
    const names = Object.keys(BROWSER_SHIMS).map((n) => n.replace(/[/.-]/g, '\\$&'));
    b.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, async (a) => {
      const target = BROWSER_SHIMS[a.path];
      if (target.startsWith('/')) return { path: target };
      return b.resolve(target, { kind: a.kind, resolveDir: WEB_DIR });
    });
  },
};

let cached: Promise<WebApp> | undefined;

export function buildWebApp(): Promise<WebApp> {
  cached ??= (async () => {
    const bundle = async (entry: string, plugins: Plugin[] = [], inject: string[] = []) =>
      (
        await build({
          entryPoints: [join(WEB_DIR, 'src', entry)],
          bundle: true,
          format: 'esm',
          platform: 'browser',
          target: 'es2022',
          minify: process.env.SPATIAL_MLLM_WEB_DEBUG !== '1',
          write: false,
          logLevel: 'silent',
          plugins,
          inject,
        })
      ).outputFiles[0].text;
    const [js, tab] = await Promise.all([
      bundle('main.ts'),
      bundle('tab.ts', [browserShims], [shim('buffer')]),
    ]);
    return {
      html: readFileSync(join(WEB_DIR, 'index.html'), 'utf8'),
      js,
      css: readFileSync(join(WEB_DIR, 'app.css'), 'utf8'),
      tab,
    };
  })();
  return cached;
}
