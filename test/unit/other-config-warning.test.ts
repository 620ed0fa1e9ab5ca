// One state dir, two config directories: a plan from the other one deletes what the last
// apply's config declared, and says so (the default state dir is shared by every config).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { configDirId, otherConfigWarning } from '../../src/cli/output';
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
