// Plan-time refusals that need no kernel: a `filters:` entry (no program resolver yet).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capabilityErrors } from '../../src/apply/preflight';
import { resourceKey } from '../../src/model/keys';
import type { Resource } from '../../src/model/types';
import { setFilterProgramResolver } from '../../src/kernel/tc/filter';
import { CAPABILITIES, judge, kernelSupports } from '../../src/kernel/capabilities';

test('a filters: entry is refused before any write while no program resolver exists', () => {
  const f: Resource = { kind: 'tfilter', namespace: 'a', dev: 'eth0', direction: 'egress', priority: 1, program: 'cnt' };
  const desired = new Map([[resourceKey(f), f]]);
  const errs = capabilityErrors(desired);
  assert.equal(errs.length, 1);
  assert.match(errs[0]!, /`filters:` entries are not supported yet; declare the program under bpf.programs with attach: \{ type: clsact/);
  setFilterProgramResolver(() => 3);
  try {
    assert.deepEqual(capabilityErrors(desired), []);
  } finally {
    setFilterProgramResolver(undefined);
  }
});

test('a bridge with only vlan_default_pvid is refused naming that option, on a kernel without VLAN filtering', () => {
  const br: Resource = { kind: 'link', namespace: 'a', name: 'br0', type: 'bridge', bridge: { vlanFiltering: false, stp: false, vlanDefaultPvid: 1 } };
  const errs = capabilityErrors(new Map([[resourceKey(br), br]]));
  if (kernelSupports(CAPABILITIES.bridgeVlanFiltering) === false) {
    assert.equal(errs.length, 1);
    assert.match(errs[0]!, /bridge\.vlan_default_pvid needs bridge VLAN filtering/);
  } else {
    assert.deepEqual(errs, []);
  }
});

test('a feature missing from the symbol table is missing only where no module could bring it (modules load on first use)', () => {
  const htb = CAPABILITIES.qdisc_htb;
  const none = new Set<string>();
  const mods = (loaded: string[], installed: string[]) => ({ loaded: new Set(loaded), installed: new Set(installed) });
  assert.equal(judge(htb, new Set(['htb_init']), null), true, 'in the table');
  assert.equal(judge(htb, none, null), false, 'a kernel without loadable modules has its whole table');
  assert.equal(judge(htb, none, mods(['sch_htb'], ['sch_htb'])), false, 'its module loaded without it');
  assert.equal(judge(htb, none, mods([], ['sch_htb'])), undefined, 'installed, loaded on first use: the kernel answers at apply');
  assert.equal(judge(htb, none, mods([], ['sch_tbf'])), false, 'no such module for this kernel');
  assert.equal(judge(htb, undefined, null), undefined, 'no table to read');
});
