// Finds reference fixture folders by the `kind` in their fixture.json, under ../shared/fixtures and under every
// directory listed in SPATIAL_MLLM_FIXTURES (colon-separated). Folder names carry no meaning.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Fixture {
  /** Folder name, used as the test name. */
  name: string;
  dir: string;
  kind: string;
  meta: Record<string, unknown>;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function fixtureRoots(): string[] {
  const roots = [resolve(repoRoot, '..', 'shared', 'fixtures')];
  for (const extra of (process.env.SPATIAL_MLLM_FIXTURES ?? '').split(':'))
    if (extra) roots.push(resolve(extra));
  return roots.filter((r) => existsSync(r));
}

/** Every fixture of a kind: roots themselves and their direct sub-folders are searched. */
export function findFixtures(kind: string): Fixture[] {
  const found: Fixture[] = [];
  const seen = new Set<string>();
  for (const root of fixtureRoots()) {
    const candidates = [root, ...readdirSync(root).map((n) => join(root, n))];
    for (const dir of candidates) {
      const file = join(dir, 'fixture.json');
      if (seen.has(dir) || !statSync(dir).isDirectory() || !existsSync(file)) continue;
      seen.add(dir);
      const meta = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      if (meta.kind === kind) found.push({ name: dir.split('/').pop()!, dir, kind, meta });
    }
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}
