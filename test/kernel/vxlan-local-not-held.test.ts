// Real kernel: why validation refuses a VXLAN `local` that no address of its namespace holds.
// The kernel takes the VXLAN and brings it up, but sends no packet from an address it does not
// hold: each one is a transmit error, nothing gets through. With the local held, the overlay works.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const CONFIG = `
namespaces: [ { name: a }, { name: b } ]
links:
  - { name: ab, namespace: a, type: veth, peer: { name: ba, namespace: b } }
  - { name: vx0, namespace: a, type: vxlan, vxlan: { vni: 10, local: 10.7.0.1, remote: 10.7.0.2 } }
  - { name: vx0, namespace: b, type: vxlan, vxlan: { vni: 10, local: 10.7.0.2, remote: 10.7.0.1 } }
addresses:
  - { address: 10.7.0.1/24, dev: ab, namespace: a }
  - { address: 10.7.0.2/24, dev: ba, namespace: b }
  - { address: 10.66.0.1/24, dev: vx0, namespace: a }
  - { address: 10.66.0.2/24, dev: vx0, namespace: b }
`;

describe('a VXLAN local its namespace does not hold (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-vxlocal-'));
  const file = path.join(dir, 'net.yaml');
  fs.writeFileSync(file, CONFIG);
  const sb = new Sandbox('vxl', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const txErrors = (): number => sb.ipj('a', ['-s', 'link', 'show', 'vx0'])[0].stats64.tx.errors;

  it('with the local held, the overlay carries traffic', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(sb.pingUntil('a', ['10.66.0.2']).code, 0);
  });

  it('validation refuses a local the namespace does not hold, at the local', () => {
    fs.writeFileSync(file, CONFIG.replace('local: 10.7.0.1,', 'local: 10.7.0.9,'));
    try {
      const p = sb.run(['plan']);
      assert.equal(p.code, 1, p.stdout + p.stderr);
      assert.match(p.stderr, /:\d+:\d+: \/links\/1\/vxlan\/local: local '10\.7\.0\.9' is not an address declared in namespace a: the kernel takes the VXLAN but sends no packet/);
    } finally {
      fs.writeFileSync(file, CONFIG);
    }
  });

  it('set by hand, the kernel takes it, the link stays up, and every packet is a transmit error', () => {
    sb.ip('a', ['link', 'set', 'vx0', 'type', 'vxlan', 'local', '10.7.0.9']);
    assert.equal(sb.ipj('a', ['-d', 'link', 'show', 'vx0'])[0].linkinfo.info_data.local, '10.7.0.9');
    assert.equal(sb.ipj('a', ['link', 'show', 'vx0'])[0].operstate, 'UNKNOWN');
    const before = txErrors();
    sb.ip('a', ['neigh', 'flush', 'dev', 'vx0']);
    assert.notEqual(sb.exec('a', ['ping', '-c', '2', '-W', '1', '10.66.0.2']).code, 0);
    assert.ok(txErrors() > before, `tx errors ${before} -> ${txErrors()}`);
  });

  it('apply puts the declared local back; the overlay works again; destroy leaves nothing', () => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(sb.pingUntil('a', ['10.66.0.2']).code, 0);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
  });
});
