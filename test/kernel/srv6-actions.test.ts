// Real kernel: every seg6local action the model allows, applied through Voltron one at a time.
// Records which actions this kernel accepts (read back with `ip -j` as the oracle) and checks
// that a rejected action fails with an error naming the action.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const BASE = `namespaces:
  - name: vact
links:
  - { name: a0, type: veth, namespace: vact, peer: { name: a1, namespace: vact } }
addresses:
  - { namespace: vact, dev: a0, address: "2001:db8:aa::1/64" }
  - { namespace: vact, dev: a0, address: "10.9.0.1/24" }
srv6:
  pools:
    p:
      paths:
        two: { segments: [ "fc00:b::1", "fc00:b::2" ] }
`;

/** action, its encap parameters (config syntax), and what `ip -j` shows for them (tables as text). */
const CASES: { action: string; params: string; shown: Record<string, unknown> }[] = [
  { action: 'End', params: '', shown: {} },
  { action: 'End.X', params: ', nh6: "2001:db8:aa::2"', shown: { nh6: '2001:db8:aa::2' } },
  { action: 'End.T', params: ', table: 100', shown: { table: '100' } },
  { action: 'End.DX2', params: ', oif: a1', shown: { oif: 'a1' } },
  { action: 'End.DX4', params: ', nh4: 10.9.0.2', shown: { nh4: '10.9.0.2' } },
  { action: 'End.DX6', params: ', nh6: "2001:db8:aa::2"', shown: { nh6: '2001:db8:aa::2' } },
  { action: 'End.DT4', params: ', vrf_table: 100', shown: { vrftable: '100' } },
  { action: 'End.DT6', params: ', table: 100', shown: { table: '100' } },
  { action: 'End.DT6', params: ', vrf_table: 100', shown: { vrftable: '100' } },
  { action: 'End.DT46', params: ', vrf_table: 100', shown: { vrftable: '100' } },
  // End.B6 inserts its SRH: the kernel writes the packet's destination into a reserved last slot.
  { action: 'End.B6', params: ', segments: [ "fc00:b::1", "fc00:b::2" ]', shown: { srh: { segs: ['fc00:b::1', 'fc00:b::2', '::'] } } },
  { action: 'End.B6.Encaps', params: ', segments: [ "fc00:b::1", "fc00:b::2" ]', shown: { srh: { segs: ['fc00:b::1', 'fc00:b::2'] } } },
];

describe('seg6local actions on this kernel', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-srv6act-'));
  const sb = new Sandbox('act', dir);
  const accepted: string[] = [];
  const rejected: string[] = [];
  before(() => fs.writeFileSync(path.join(dir, 'base.yaml'), BASE));
  after(() => {
    console.log(`# seg6local accepted: ${accepted.join(', ')}`);
    console.log(`# seg6local rejected: ${rejected.join(', ')}`);
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies the base (a namespace with a veth pair, no routes)', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  CASES.forEach((c, i) => {
    const sid = `fc00:a::${(i + 1).toString(16)}`;
    const label = `${c.action}${c.params.replace(/"/g, '')}`;
    it(`${label}: accepted and read back, or rejected with an error naming it`, () => {
      fs.writeFileSync(path.join(dir, 'routes.yaml'), `routes:\n  - { namespace: vact, to: "${sid}/128", dev: a0, encap: { type: seg6local, action: ${c.action}${c.params} } }\n`);
      const r = sb.run(['apply', '--auto-approve']);
      if (r.code === 0) {
        const [route] = sb.ipj('vact', ['-6', 'route', 'show', sid]);
        assert.ok(route, `route ${sid} exists after a successful apply`);
        assert.equal(route.encap, 'seg6local');
        assert.equal(route.action, c.action);
        for (const [k, v] of Object.entries(c.shown)) assert.deepEqual(route[k], v, `${k} of ${label}`);
        const p = sb.run(['plan', '--detailed-exitcode']);
        assert.equal(p.code, 0, `re-plan of ${label} is empty: ${p.stdout}${p.stderr}`);
        accepted.push(label);
      } else {
        const msg = r.stdout + r.stderr;
        // Either the plan-time capability check (detected from the kernel, before any write)
        // or the kernel's own rejection; both must name the action.
        const act = c.action.replace(/\./g, '\\.');
        const re = new RegExp(`add route ${sid.replace(/[.]/g, '\\.')}/128 encap seg6local ${act}: E[A-Z]+|seg6local ${act} with vrf_table needs [^\n]*which this kernel does not have`);
        assert.match(msg, re, `the error names the route and the action`);
        assert.deepEqual(sb.ipj('vact', ['-6', 'route', 'show', sid]), [], 'nothing half-made');
        rejected.push(`${label} (${(msg.match(re) ?? [''])[0].split(': ').slice(1).join(': ')})`);
      }
    });
  });

  it('End, End.X, End.T, End.DX2/4/6, End.DT6 (table), End.B6 and End.B6.Encaps are accepted here', () => {
    // The VRF-based decapsulations need a VRF device (this kernel has no VRF support), so their
    // result depends on the kernel build; the legacy ones must always work.
    for (const a of ['End', 'End.X', 'End.T', 'End.DX2', 'End.DX4', 'End.DX6', 'End.DT6, table', 'End.B6,', 'End.B6.Encaps'])
      assert.ok(accepted.some((x) => (a === 'End' ? x === a : x.startsWith(a))), `${a} accepted (accepted: ${accepted.join('; ')})`);
  });

  it('a BSID from a pool is an End.B6.Encaps route carrying the path segments', () => {
    // Pools are declared once (only a host overlay may redeclare one): add the bsid to the base.
    fs.rmSync(path.join(dir, 'routes.yaml'), { force: true });
    fs.writeFileSync(path.join(dir, 'base.yaml'), `${BASE}      bsids:\n        two: { sid: "fc00:ff::9", namespace: vact }\n`);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const [b] = sb.ipj('vact', ['-6', 'route', 'show', 'fc00:ff::9']);
    assert.equal(b.action, 'End.B6.Encaps');
    assert.deepEqual(b.srh.segs, ['fc00:b::1', 'fc00:b::2']);
    assert.equal(b.dev, 'a0', 'dev defaults to the first link declared in the namespace');
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('destroy leaves nothing', () => {
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});
