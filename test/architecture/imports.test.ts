// The dependency rules of the repository contract, checked statically over src/: apps → pipeline → models →
// engine; engine and runtime know nothing of models; data and eval depend on nothing heavy; no import cycles;
// no module loaded through a computed path (dependencies are passed in, so tsc and bundlers see every edge).
// Every import counts: static, type-only, re-exports and dynamic `import('literal')`.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

const walk = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });

interface ModuleImports {
  /** Specifiers as written. */
  specifiers: string[];
  /** `import(x)` calls whose argument is not a string literal, as `line: text`. */
  computed: string[];
}

function importsOf(file: string): ModuleImports {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: ModuleImports = { specifiers: [], computed: [] };
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    )
      out.specifiers.push(node.moduleSpecifier.text);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) out.specifiers.push(arg.text);
      else
        out.computed.push(
          `${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${node.getText().slice(0, 80)}`,
        );
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** src-relative path ('eval/runner.ts') → the src-relative files it imports, and its computed imports. */
const graph = new Map<string, { deps: string[]; computed: string[] }>();
for (const file of walk(SRC)) {
  const { specifiers, computed } = importsOf(file);
  const deps = specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) => relative(SRC, resolve(dirname(file), s)))
    .filter((p) => !p.startsWith('..'));
  graph.set(relative(SRC, file), { deps: [...new Set(deps)], computed });
}

const layerOf = (path: string) => (path.includes('/') ? path.split('/')[0] : '');

/** Each layer (a folder under src/) and the layers it must never import. */
const FORBIDDEN: Record<string, readonly string[]> = {
  engine: ['models', 'pipeline', 'apps', 'train', 'runtime', 'eval', 'data'],
  runtime: ['models', 'pipeline', 'apps', 'train', 'engine', 'eval', 'data'],
  models: ['pipeline', 'apps', 'train', 'eval', 'data'],
  pipeline: ['apps', 'train', 'eval', 'data'],
  eval: ['pipeline', 'models', 'apps', 'runtime', 'engine', 'train', 'data'],
  data: ['pipeline', 'models', 'apps', 'runtime', 'engine', 'train', 'eval'],
  weights: ['models', 'pipeline', 'apps', 'train', 'eval', 'data'],
};

test('layers import only downwards', () => {
  assert.ok(graph.size > 50, `found only ${graph.size} modules under ${SRC}`);
  const violations: string[] = [];
  for (const [from, { deps }] of graph) {
    const banned = FORBIDDEN[layerOf(from)] ?? [];
    for (const to of deps) if (banned.includes(layerOf(to))) violations.push(`${from} → ${to}`);
  }
  assert.deepEqual(violations, [], `imports against the layer order:\n${violations.join('\n')}`);
});

test('eval and data do not load ONNX Runtime', () => {
  const heavy: string[] = [];
  for (const file of walk(SRC)) {
    const path = relative(SRC, file);
    if (!['eval', 'data'].includes(layerOf(path))) continue;
    for (const s of importsOf(file).specifiers) if (s.startsWith('onnxruntime')) heavy.push(`${path} → ${s}`);
  }
  assert.deepEqual(heavy, []);
});

test('no module is imported through a computed path', () => {
  const computed = [...graph].flatMap(([path, m]) => m.computed.map((c) => `${path}:${c}`));
  assert.deepEqual(
    computed,
    [],
    `computed imports (pass the dependency in instead):\n${computed.join('\n')}`,
  );
});

test('no import cycles', () => {
  // Tarjan's strongly connected components; any component with more than one module is a cycle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  const connect = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.deps ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)!.deps.includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.map((c) => c.join(' ↔ ')).join('\n')}`);
});

test('every relative import resolves to a file under src/', () => {
  const missing = [...graph].flatMap(([from, { deps }]) =>
    deps.filter((d) => !graph.has(d)).map((d) => `${from} → ${d}`),
  );
  assert.deepEqual(missing, []);
});
