// Real kernel: a declared IPv6 device mtu (net.ipv6.conf.<dev>.mtu) below the link's mtu. The
// kernel sets it back to the link mtu when the link mtu changes, and when the link comes up or
// its carrier comes on (a veth end whose peer comes up; acted on later, by the link watch): an
// apply that did any of these after the key's write (or left it alone, in sync) failed to verify.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { editableSandbox } from '../support/sandbox';

describe('IPv6 device mtu sysctl across link changes', () => {
  const { sb, file } = editableSandbox('m6', ''); // written below, per case
  const write = (o: { mtu: number; peer: string; peerState: string }): void =>
    fs.writeFileSync(
      file,
      `namespaces:\n  - name: a\n    sysctls:\n      net.ipv6.conf.v1.mtu: 1400\n` +
        `links:\n  - { name: v1, namespace: a, type: veth, mtu: ${o.mtu}, peer: { name: ${o.peer}, namespace: a, state: ${o.peerState} } }\n`,
    );
  const mtu6 = (): string => sb.exec('a', ['sysctl', '-n', 'net.ipv6.conf.v1.mtu']).stdout.trim();
  const applyClean = (what: string): void => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, `${what}: ${a.stdout}${a.stderr}`);
    assert.equal(mtu6(), '1400', what);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0, what);
  };

  it('holds when the link is created, its mtu changes, its peer comes up, and it is replaced', () => {
    write({ mtu: 9000, peer: 'v2', peerState: 'up' });
    applyClean('created with its namespace');
    write({ mtu: 8000, peer: 'v2', peerState: 'up' }); // the key is in sync: written again
    const p = sb.run(['plan']);
    assert.match(p.stdout, /sysctl a net\.ipv6\.conf\.v1\.mtu\n\s+# \(written again after v1 changes/);
    applyClean('link mtu changed');
    write({ mtu: 8000, peer: 'v2', peerState: 'down' });
    applyClean('peer down');
    write({ mtu: 8000, peer: 'v2', peerState: 'up' });
    applyClean('peer up: carrier on');
    for (const peer of ['v3', 'v2', 'v3']) {
      write({ mtu: 8000, peer, peerState: 'up' });
      applyClean(`replaced with peer ${peer}`);
    }
  });

  it('destroy leaves nothing', () => {
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });
});

describe('IPv6 device mtu sysctl of a bridge whose ports leave (real kernel)', () => {
  // br0 declares no mtu: the kernel keeps it at its ports' lowest. Its 1500 port leaving (or
  // deleted) moves it to the other port's 9000, and the kernel resets br0's IPv6 mtu with it: the
  // apply failed to verify and rolled back.
  const { sb, file } = editableSandbox('m6b', ''); // written below, per case
  const write = (pa: string): void =>
    fs.writeFileSync(
      file,
      `namespaces:\n  - name: a\n    sysctls:\n      net.ipv6.conf.br0.mtu: 1400\n` +
        `links:\n  - { name: br0, namespace: a, type: bridge }\n${pa}` +
        `  - { name: pb, namespace: a, type: veth, mtu: 9000, master: br0, peer: { name: pb2, namespace: a } }\n`,
    );
  const port = '  - { name: pa, namespace: a, type: veth, mtu: 1500, master: br0, peer: { name: pa2, namespace: a } }\n';
  const mtu6 = (): string => sb.exec('a', ['sysctl', '-n', 'net.ipv6.conf.br0.mtu']).stdout.trim();
  const applyClean = (what: string): void => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, `${what}: ${a.stdout}${a.stderr}`);
    assert.equal(mtu6(), '1400', what);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0, what);
  };

  it('holds when the port leaves the bridge, and when it is deleted', () => {
    write(port);
    applyClean('created');
    write(port.replace(', master: br0', ''));
    applyClean('port leaves');
    assert.equal(sb.ipj('a', ['link', 'show', 'br0'])[0].mtu, 9000);
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    write(port);
    applyClean('created again');
    write('');
    applyClean('port deleted');
    assert.equal(sb.ipj('a', ['link', 'show', 'br0'])[0].mtu, 9000);
  });

  it('destroy leaves nothing', () => {
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });
});
