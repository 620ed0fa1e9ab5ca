// Real kernel, the CLI with host overlays: an overlay overrides a base object, adds one and
// removes one (state: absent); a mistyped --host is said on stderr by plan and apply (it means
// "base files only", so the plan deletes what the host's overlay declared), and so is a plan for
// another host's overlay than the last apply's.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const BASE = `namespaces: [ { name: a } ]
links:
  - { name: br0, namespace: a, type: bridge, mtu: 1500 }
  - { name: br1, namespace: a, type: bridge }
addresses:
  - { address: 10.0.0.1/24, dev: br0, namespace: a }
`;

const H1 = `links:
  - { name: br0, namespace: a, type: bridge, mtu: 1400 }
  - { name: br1, namespace: a, state: absent }
  - { name: br2, namespace: a, type: bridge }
`;

describe('host overlays through the CLI (real kernel)', () => {
  const cfg = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-hosts-'));
  fs.writeFileSync(path.join(cfg, 'base.yaml'), BASE);
  fs.mkdirSync(path.join(cfg, 'hosts'));
  fs.writeFileSync(path.join(cfg, 'hosts', 'h1.yaml'), H1);
  const sb = new Sandbox('hosts', cfg);
  after(() => {
    sb.cleanup();
    fs.rmSync(cfg, { recursive: true, force: true });
  });
  const links = () => (sb.ipj('a', ['link', 'show']) as { ifname: string; mtu: number }[]).filter((l) => l.ifname !== 'lo');

  it('the overlay overrides, adds and removes; plan and apply say so when --host names no overlay', () => {
    const a = sb.run(['apply', '--auto-approve', '--host', 'h1']);
    assert.equal(a.code, 0, a.stderr);
    assert.doesNotMatch(a.stderr, /has no overlay/);
    assert.deepEqual(
      links().map((l) => [l.ifname, l.mtu]).sort(),
      [['br0', 1400], ['br2', 1500]],
    );
    assert.equal(sb.run(['plan', '--detailed-exitcode', '--host', 'h1']).code, 0);
    // Another host's overlay (a typo naming a real host): its plan deletes h1's objects. Said too.
    fs.writeFileSync(path.join(cfg, 'hosts', 'h2.yaml'), '');
    const other = sb.run(['plan', '--detailed-exitcode', '--host', 'h2']);
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /Warning: the state dir .* was last applied for host 'h1' \(hosts\/h1\.yaml\); this plan is for host 'h2', and deletes 1 object\(s\) owned through it\. If this machine is 'h1', run with --host h1\./);
    fs.rmSync(path.join(cfg, 'hosts', 'h2.yaml'));
    // A typo: base files only, so br2 would go and br1 come back. Said, not silent.
    const typo = sb.run(['plan', '--detailed-exitcode', '--host', 'hl']);
    assert.equal(typo.code, 2, typo.stderr);
    assert.match(typo.stderr, /Note: host 'hl' has no overlay \(hosts\/hl\.yaml\); using the base files only\. Overlays exist for: h1\./);
    assert.match(typo.stdout, /- link a\/br2/);
    const refused = sb.run(['apply', '--host', 'hl']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /has no overlay/);
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });
});
