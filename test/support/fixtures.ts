// Finds reference fixture folders by the `kind` in their fixture.json, under ../shared/fixtures and under every
// directory listed in SPATIAL_MLLM_FIXTURES (colon-separated). Folder names carry no meaning.
//
// Tests register one test per fixture, so a kind with no fixture would leave the suite green with nothing run:
// `findFixtures` registers a failing test instead (and a folder named in SPATIAL_MLLM_FIXTURES that does not exist
// is an error, not ignored).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

export interface Fixture {
  /** Folder name, used as the test name. */
  name: string;
  dir: string;
  kind: string;
  meta: Record<string, unknown>;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The shared fixture folder and every SPATIAL_MLLM_FIXTURES entry; throws naming an entry that does not exist. */
export function fixtureRoots(env: string | undefined = process.env.SPATIAL_MLLM_FIXTURES): string[] {
  const roots: string[] = [];
  const shared = resolve(repoRoot, '..', 'shared', 'fixtures');
  if (existsSync(shared)) roots.push(shared);
  for (const extra of (env ?? '').split(':')) {
    if (!extra) continue;
    const dir = resolve(extra);
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new Error(
        `SPATIAL_MLLM_FIXTURES names ${extra}, which is not a folder; fix the path or drop it from the list`,
      );
    roots.push(dir);
  }
  return roots;
}

/** Every fixture of a kind (roots themselves and their direct sub-folders are searched), possibly none. */
export function searchFixtures(kind: string, roots: readonly string[] = fixtureRoots()): Fixture[] {
  const found: Fixture[] = [];
  const seen = new Set<string>();
  for (const root of roots) {
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

/**
 * Every fixture of a kind, for tests that run once per fixture. None found (or a bad SPATIAL_MLLM_FIXTURES entry)
 * registers a failing test saying so, so the missing coverage shows as a failure rather than as nothing run.
 */
export function findFixtures(kind: string): Fixture[] {
  let found: Fixture[];
  let problem: string;
  try {
    found = searchFixtures(kind);
    problem = `no fixture of kind "${kind}" under ${fixtureRoots().join(', ') || '(no fixture folder)'}`;
  } catch (e) {
    found = [];
    problem = (e as Error).message;
  }
  if (found.length === 0)
    test(`fixtures of kind ${kind}`, () => {
      throw new Error(
        `${problem}; put the shared fixtures at <repo>/../shared/fixtures or list extra folders in SPATIAL_MLLM_FIXTURES`,
      );
    });
  return found;
}

/** The eos ids a model fixture's greedy generation stopped on: generation_config.json's, else config.json's. */
export function generationStops(dir: string): number[] {
  for (const f of ['generation_config.json', 'config.json']) {
    const path = join(dir, f);
    if (!existsSync(path)) continue;
    const eos = (JSON.parse(readFileSync(path, 'utf8')) as { eos_token_id?: number | number[] }).eos_token_id;
    if (eos !== undefined) return Array.isArray(eos) ? eos : [eos];
  }
  return [];
}
