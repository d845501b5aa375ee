// The web app (web/) bundled with esbuild when the server starts, in memory: nothing built is committed, and
// the page always matches the sources.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface WebApp {
  html: string;
  js: string;
  css: string;
}

export const WEB_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web');

let cached: Promise<WebApp> | undefined;

export function buildWebApp(): Promise<WebApp> {
  cached ??= (async () => {
    const r = await build({
      entryPoints: [join(WEB_DIR, 'src', 'main.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      sourcemap: false,
      write: false,
      logLevel: 'silent',
    });
    return {
      html: readFileSync(join(WEB_DIR, 'index.html'), 'utf8'),
      js: r.outputFiles[0].text,
      css: readFileSync(join(WEB_DIR, 'app.css'), 'utf8'),
    };
  })();
  return cached;
}
