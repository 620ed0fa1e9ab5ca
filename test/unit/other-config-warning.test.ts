// One state dir, two config directories: a plan from the other one deletes what the last
// apply's config declared, and says so (the default state dir is shared by every config).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configDirId, otherConfigWarning, otherHostWarning } from '../../src/cli/output';
import { computePlan } from '../../src/plan';
import type { Inventory } from '../../src/plan/types';
import type { LinkRes, Resource } from '../../src/model/types';

const br = (name: string): LinkRes => ({ kind: 'link', namespace: '', name, type: 'bridge', state: 'up', bridge: { vlanFiltering: false, stp: false } });
const map = (...rs: Resource[]) => new Map(rs.map((r) => [`link:/${(r as LinkRes).name}`, r]));

test('a plan from another config dir that deletes owned objects is warned about; the same dir (or a link to it) is not', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-otherconfig-'));
  try {
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    fs.mkdirSync(a);
    fs.mkdirSync(b);
    fs.symlinkSync(a, path.join(root, 'a-link'));
    const live = map(br('br0'), br('br1'));
    const inventory: Inventory = { version: 1, owned: Object.fromEntries(live), original: {}, configDir: configDirId(a) };
    const fromB = computePlan({ desired: map(br('br1')), current: live, inventory });
    assert.deepEqual(fromB.changes.map((c) => `${c.action} ${c.key}`), ['delete link:/br0']);
    const w = otherConfigWarning({ configDir: b, stateDir: '/var/lib/voltron' }, inventory, fromB);
    assert.match(w ?? '', /last applied from the config .*\/a; this config \(.*\/b\) does not declare 1 object\(s\)/);
    assert.equal(otherConfigWarning({ configDir: path.join(root, 'a-link'), stateDir: '/s' }, inventory, fromB), undefined, 'same dir through a link');
    assert.equal(otherConfigWarning({ configDir: b, stateDir: '/s' }, { ...inventory, configDir: undefined }, fromB), undefined, 'an inventory from before the field');
    const noDeletes = computePlan({ desired: live, current: live, inventory });
    assert.equal(otherConfigWarning({ configDir: b, stateDir: '/s' }, inventory, noDeletes), undefined, 'nothing deleted: nothing to say');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a plan for another host of the same config that deletes owned objects is warned about, only where overlays exist', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-otherhost-'));
  try {
    const dir = path.join(root, 'net');
    fs.mkdirSync(path.join(dir, 'hosts'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'hosts', 'hosta.yaml'), '');
    fs.writeFileSync(path.join(dir, 'hosts', 'hostb.yaml'), '');
    const live = map(br('br0'), br('br1'));
    const inventory: Inventory = { version: 1, owned: Object.fromEntries(live), original: {}, configDir: configDirId(dir), host: 'hosta' };
    const forB = computePlan({ desired: map(br('br1')), current: live, inventory });
    const ctx = { configDir: dir, stateDir: '/s', host: 'hostb' };
    assert.match(otherHostWarning(ctx, inventory, forB) ?? '', /last applied for host 'hosta' \(hosts\/hosta\.yaml\); this plan is for host 'hostb', and deletes 1 object\(s\).*--host hosta/);
    assert.equal(otherHostWarning({ ...ctx, host: 'hosta' }, inventory, forB), undefined, 'the same host');
    assert.match(otherHostWarning({ ...ctx, host: 'hostc' }, inventory, forB) ?? '', /this plan is for host 'hostc'/, 'a host without an overlay: its plan drops hosta\'s');
    assert.equal(otherHostWarning(ctx, { ...inventory, host: undefined }, forB), undefined, 'an inventory from before the field');
    assert.equal(otherHostWarning(ctx, { ...inventory, configDir: '/elsewhere' }, forB), undefined, 'another config dir: otherConfigWarning says it');
    const noDeletes = computePlan({ desired: live, current: live, inventory });
    assert.equal(otherHostWarning(ctx, inventory, noDeletes), undefined, 'nothing deleted: nothing to say');
    fs.rmSync(path.join(dir, 'hosts'), { recursive: true });
    assert.equal(otherHostWarning(ctx, inventory, forB), undefined, 'no overlays: host names mean nothing to the config');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
