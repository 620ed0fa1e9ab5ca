// Golden plan tests: every directory in test/golden holds current.yaml, desired.yaml, optional
// inventory.yaml / options.yaml, and expected.txt = renderText(plan, {color: false}).
// UPDATE_GOLDEN=1 rewrites expected.txt (review every diff by eye before committing).
// Each case is also applied to the in-memory kernel and must then plan to nothing.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { resourceKey } from '../../src/model/keys';
import type { Resource } from '../../src/model/types';
import { computePlan, renderText, type PlanInput } from '../../src/plan';
import type { Inventory } from '../../src/plan/types';
import { applyPlan, memState, readState } from '../support/memkernel';

function goldenDir(): string {
  const candidates = [resolve(__dirname, '../../../test/golden'), resolve(process.cwd(), 'test/golden')];
  const dir = candidates.find((d) => existsSync(d));
  if (!dir) throw new Error(`golden directory not found (tried ${candidates.join(', ')})`);
  return dir;
}

const NAMESPACED = new Set(['link', 'address', 'route', 'rule', 'sysctl', 'tunsrc', 'qdisc', 'tclass', 'tfilter']);

/** A resource as written in a golden file: `namespace` defaults to root, routes get kernel defaults. */
export function loadResource(raw: Record<string, unknown>): Resource {
  const r: Record<string, unknown> = { ...raw };
  if (NAMESPACED.has(String(r['kind'])) && r['namespace'] === undefined) r['namespace'] = '';
  if (r['kind'] === 'route') {
    const fam = r['family'] ?? (String(r['to']).includes(':') ? 6 : 4);
    r['family'] = fam;
    r['table'] ??= 254;
    r['metric'] ??= fam === 6 ? 1024 : 0;
    r['type'] ??= 'unicast';
  }
  if (r['kind'] === 'qdisc') r['options'] ??= {};
  if (r['kind'] === 'bpf') r['maps'] ??= [];
  return r as unknown as Resource;
}

function loadList(file: string): Map<string, Resource> {
  const m = new Map<string, Resource>();
  if (!existsSync(file)) return m;
  const data = (parse(readFileSync(file, 'utf8')) ?? []) as Record<string, unknown>[];
  if (!Array.isArray(data)) throw new Error(`${file}: expected a list of resources`);
  for (const raw of data) {
    const r = loadResource(raw);
    const k = resourceKey(r);
    if (m.has(k)) throw new Error(`${file}: duplicate ${k}`);
    m.set(k, r);
  }
  return m;
}

interface Options {
  ignore?: string[];
  managedNamespaces?: string[];
  /** false when applying the plan to the simulated kernel cannot converge in one run (documented in the case). */
  converge?: boolean;
}

export function loadCase(dir: string): { input: PlanInput; options: Options } {
  const desired = loadList(join(dir, 'desired.yaml'));
  const current = loadList(join(dir, 'current.yaml'));
  let inventory: Inventory = { version: 1, owned: {}, original: {} };
  const invFile = join(dir, 'inventory.yaml');
  if (existsSync(invFile)) {
    const raw = (parse(readFileSync(invFile, 'utf8')) ?? {}) as { owned?: Record<string, unknown>[]; adopted?: Record<string, unknown>[]; original?: Record<string, string> };
    const byKey = (list: Record<string, unknown>[] | undefined): Record<string, Resource> => {
      const out: Record<string, Resource> = {};
      for (const o of list ?? []) {
        const r = loadResource(o);
        out[resourceKey(r)] = r;
      }
      return out;
    };
    inventory = { version: 1, owned: byKey(raw.owned), original: raw.original ?? {}, ...(raw.adopted ? { adopted: byKey(raw.adopted) } : {}) };
  }
  const optFile = join(dir, 'options.yaml');
  const options = (existsSync(optFile) ? parse(readFileSync(optFile, 'utf8')) : {}) as Options;
  return {
    input: {
      desired,
      current,
      inventory,
      ...(options.ignore ? { ignore: options.ignore } : {}),
      ...(options.managedNamespaces ? { managedNamespaces: options.managedNamespaces } : {}),
    },
    options,
  };
}

const root = goldenDir();
const cases = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

test('golden: at least 30 cases exist', () => {
  assert.ok(cases.length >= 30, `only ${cases.length} golden cases`);
});

for (const name of cases) {
  test(`golden: ${name}`, () => {
    const dir = join(root, name);
    const { input, options } = loadCase(dir);
    const plan = computePlan(input);
    const text = renderText(plan, { color: false });
    const expectedFile = join(dir, 'expected.txt');
    if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(expectedFile, text);
    assert.ok(existsSync(expectedFile), `${expectedFile} missing (run with UPDATE_GOLDEN=1)`);
    assert.equal(text, readFileSync(expectedFile, 'utf8'));

    if (options.converge === false) return;
    const kernel = memState(input.current.values());
    applyPlan(kernel, plan.changes);
    const owned: Record<string, Resource> = { ...input.inventory.owned };
    for (const [k, r] of input.desired) owned[k] = r;
    const again = computePlan({ ...input, current: readState(kernel), inventory: { ...input.inventory, owned } });
    assert.equal(again.changes.length, 0, `not converged after apply:\n${renderText(again, { color: false })}`);
  });
}
