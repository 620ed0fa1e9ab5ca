// Real kernel, property: over random desired states (subsets and modifications of links,
// addresses, routes and a namespace on top of a base config), an injected failure at a random
// step k (VOLTRON_FAULT) rolls back: the live state equals the pre-apply state (owned and
// foreign, by `ip -j`), the inventory is the pre-apply one, and foreign objects are untouched.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Sandbox, liveOracle } from '../support/sandbox';

const oracle = liveOracle;

interface LinkSpec {
  present: boolean;
  mtu: number;
  up: boolean;
  alias: string | undefined;
  addrs: [boolean, boolean];
  route: boolean;
}

interface Desired {
  nsPresent: boolean;
  links: LinkSpec[]; // l0..l3 in root, l4..l5 in namespace vkb
  blackholes: (number | undefined)[]; // metric per candidate, undefined = absent
}

const LINKS = ['l0', 'l1', 'l2', 'l3', 'm0', 'm1'];

function render(d: Desired): string {
  const ns = (i: number) => (i >= 4 ? ', namespace: vkb' : '');
  const links: string[] = [];
  const addrs: string[] = [];
  const routes: string[] = [];
  d.links.forEach((l, i) => {
    if (!l.present || (i >= 4 && !d.nsPresent)) return;
    links.push(`  - { name: ${LINKS[i]}, type: bridge, mtu: ${l.mtu}, state: ${l.up ? 'up' : 'down'}${l.alias ? `, alias: ${l.alias}` : ''}${ns(i)} }`);
    l.addrs.forEach((a, j) => a && addrs.push(`  - { address: 10.${10 + i}.${j}.1/24, dev: ${LINKS[i]}${ns(i)} }`));
    // A gateway on a link that is down is refused before any write: in vkb by the config (it
    // declares all of vkb), in the root namespace by the plan (against the live root).
    if (l.route && l.addrs[0] && l.up) routes.push(`  - { to: 10.${100 + i}.0.0/16, via: 10.${10 + i}.0.254${ns(i)} }`);
  });
  d.blackholes.forEach((m, i) => m !== undefined && routes.push(`  - { to: 10.${200 + i}.0.0/16, type: blackhole, metric: ${m} }`));
  const list = (k: string, xs: string[]) => (xs.length ? `${k}:\n${xs.join('\n')}\n` : '');
  return `${d.nsPresent ? 'namespaces: [ { name: vkb } ]\n' : ''}${list('links', links)}${list('addresses', addrs)}${list('routes', routes)}`;
}

const BASE: Desired = {
  nsPresent: true,
  links: [
    { present: true, mtu: 1500, up: true, alias: undefined, addrs: [true, false], route: true },
    { present: true, mtu: 1400, up: true, alias: 'base', addrs: [true, true], route: false },
    { present: true, mtu: 1500, up: false, alias: undefined, addrs: [false, false], route: false },
    { present: false, mtu: 1500, up: true, alias: undefined, addrs: [false, false], route: false },
    { present: true, mtu: 1500, up: true, alias: undefined, addrs: [true, false], route: true },
    { present: false, mtu: 1500, up: true, alias: undefined, addrs: [false, false], route: false },
  ],
  blackholes: [100, undefined, 5],
};

const linkArb: fc.Arbitrary<LinkSpec> = fc.record({
  present: fc.boolean(),
  mtu: fc.constantFrom(1400, 1500, 9000),
  up: fc.boolean(),
  alias: fc.constantFrom(undefined, 'base', 'other'),
  addrs: fc.tuple(fc.boolean(), fc.boolean()),
  route: fc.boolean(),
});
const desiredArb: fc.Arbitrary<Desired> = fc.record({
  nsPresent: fc.boolean(),
  links: fc.tuple(linkArb, linkArb, linkArb, linkArb, linkArb, linkArb),
  blackholes: fc.tuple(...[0, 1, 2].map(() => fc.constantFrom(undefined, 5, 100))),
});

/** An inventory file without its record of link ifindexes and namespace cookies. */
function withoutIndexes(text: string): unknown {
  const { ifindex: _i, netnsCookie: _c, ...rest } = JSON.parse(text) as { ifindex?: unknown; netnsCookie?: unknown };
  return rest;
}

describe('rollback after an injected failure at a random step (property, real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
  const cfg = path.join(dir, 'network.yaml');
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
  fs.writeFileSync(path.join(baseDir, 'network.yaml'), render(BASE));
  const sb = new Sandbox('rbk', baseDir);
  let pre = '';
  let inventory = '';
  const invFile = () => path.join(sb.stateDir, 'sandbox', sb.prefix, 'inventory.json');

  before(() => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // Foreign objects, made behind Voltron's back: they must survive every rollback untouched.
    sb.ip('', ['link', 'add', 'frgn0', 'type', 'bridge']);
    sb.ip('', ['addr', 'add', '10.99.0.1/24', 'dev', 'frgn0']);
    sb.ip('', ['link', 'set', 'frgn0', 'up']);
    sb.ip('', ['route', 'add', '10.98.0.0/16', 'via', '10.99.0.254', 'proto', 'static']);
    sb.ip('', ['route', 'add', 'unreachable', '10.97.0.0/16', 'proto', 'static']);
    // (Foreign objects inside a container the plan deletes, e.g. namespace vkb, go with it even on
    // success; rollback does not recreate them: see docs/safe-apply.md. Not exercised here.)
    pre = oracle(sb);
    inventory = fs.readFileSync(invFile(), 'utf8');
    assert.match(pre, /frgn0/);
  });
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(baseDir, { recursive: true, force: true });
  });

  it('after the failure, the live state and the inventory equal the pre-apply ones', () => {
    let runs = 0;
    const seen = new Set<string>();
    fc.assert(
      fc.property(desiredArb, fc.integer({ min: 1, max: 60 }), fc.constantFrom(1, 16, 17, 22, 95, 105), (d, kk, errno) => {
        fs.writeFileSync(cfg, render(d));
        const p = sb.run(['plan', '-o', 'json'], { config: dir });
        assert.equal(p.code, 0, p.stderr);
        const changes: { action: string }[] = JSON.parse(p.stdout).changes;
        if (changes.length === 0) return;
        const k = ((kk - 1) % changes.length) + 1;
        const a = sb.run(['apply', '--auto-approve'], { config: dir, env: { VOLTRON_FAULT: `step=${k},errno=${errno}` } });
        const ctx = `k=${k} of ${changes.length}, errno=${errno}\n${render(d)}\n${a.stdout}${a.stderr}`;
        assert.equal(a.code, 1, ctx);
        // Usually the injected fault; a random plan that fails for real earlier must roll back
        // just the same.
        assert.match(a.stderr, /^Error: .*: (E[A-Z]+: injected fault|E[A-Z]+)/m, ctx);
        assert.match(a.stderr, /rolled back; nothing changed/, ctx);
        assert.equal(oracle(sb), pre, ctx);
        // Links and namespaces the rollback recreated have new ifindexes and netns cookies: the
        // inventory records the live ones.
        assert.deepEqual(withoutIndexes(fs.readFileSync(invFile(), 'utf8')), withoutIndexes(inventory), ctx);
        for (const c of changes.slice(0, k)) seen.add(c.action);
        runs++;
      }),
      { numRuns: 20 },
    );
    assert.ok(runs >= 10, `only ${runs} non-empty plans`);
    assert.deepEqual([...seen].sort(), ['create', 'delete', 'update'].filter((x) => seen.has(x)).sort());
    assert.ok(seen.has('create') && seen.has('delete'), `actions exercised: ${[...seen]}`);
    // The base config still plans to nothing: nothing owned drifted.
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });
});
