// Real kernel: what IPv6 writes change beyond themselves.
// - Deleting an IPv6 address clears the `src` of the routes using it (in every table) instead of
//   removing them, as IPv4 does. Renumbering an address to another prefix length (the same ip:
//   delete, then add) left a declared route without its source: the apply failed to verify and
//   rolled back ("update route ...: src differs").
// - Writing a device's stable_secret sets its addr_gen_mode to 2 (stable privacy), and writing
//   default's sets every device's: a declared addr_gen_mode next to it never verified.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { editableSandbox } from '../support/sandbox';

const secret = (n: number): string => `"2001:0db8:0000:0000:0000:0000:0000:000${n}"`;

describe('an IPv6 address renumbered under routes using it as their source', () => {
  const { sb, edit } = editableSandbox(
    'v6src',
    `namespaces:\n  - name: h1\n  - name: h2\n` +
      `links:\n  - { name: v1, type: veth, namespace: h1, peer: { name: v2, namespace: h2 } }\n` +
      `addresses:\n` +
      `  - { namespace: h1, dev: v1, address: "2001:db8::1/64" }\n` +
      `  - { namespace: h2, dev: v2, address: "2001:db8::2/64" }\n` +
      `  - { namespace: h1, dev: v1, address: "2001:db8:9::1/64" }\n` +
      `routes:\n` +
      `  - { namespace: h1, to: "2001:db8:5::/64", via: "2001:db8::2", src: "2001:db8:9::1" }\n` +
      `  - { namespace: h1, to: "2001:db8:6::/64", via: "2001:db8::2", src: "2001:db8:9::1", table: 100 }\n`,
  );
  const sources = (): string[] =>
    sb.ipj('h1', ['-6', 'route', 'show', 'table', 'all']).filter((r: any) => /^2001:db8:[56]::/.test(r.dst)).map((r: any) => `${r.dst} ${r.prefsrc ?? '-'}`).sort();
  const want = ['2001:db8:5::/64 2001:db8:9::1', '2001:db8:6::/64 2001:db8:9::1'];

  it('keeps the source of every route through a prefix length change and back, in one apply each', () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(sources(), want);
    for (const [from, to] of [
      ['2001:db8:9::1/64', '2001:db8:9::1/56'],
      ['2001:db8:9::1/56', '2001:db8:9::1/64'],
    ] as const) {
      edit(from, to);
      const p = sb.run(['plan']);
      assert.match(p.stdout, /~ route h1 2001:db8:5::\/64\n\s+# \(src written again after address h1\/v1 2001:db8:9::1\/\d+ is deleted/, p.stdout);
      const r = sb.run(['apply', '--auto-approve']);
      assert.equal(r.code, 0, `${from} → ${to}: ${r.stdout}${r.stderr}`);
      assert.deepEqual(sources(), want, `${from} → ${to}`);
      assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0, `${from} → ${to}: a second plan is empty`);
    }
  });

  it('destroy leaves nothing', () => {
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });
});

describe('stable_secret and a declared addr_gen_mode', () => {
  const { sb, edit } = editableSandbox(
    'v6sec',
    `namespaces:\n  - name: h1\n    sysctls:\n` +
      `      net.ipv6.conf.v1.stable_secret: ${secret(1)}\n` +
      `      net.ipv6.conf.v1.addr_gen_mode: 1\n` +
      `      net.ipv6.conf.v2.addr_gen_mode: 3\n` +
      `links:\n  - { name: v1, type: veth, namespace: h1, peer: { name: v2, namespace: h1 } }\n`,
  );
  const modes = (): string => sb.exec('h1', ['sysctl', '-n', 'net.ipv6.conf.v1.addr_gen_mode', 'net.ipv6.conf.v2.addr_gen_mode']).stdout.trim().split('\n').join(' ');
  const applyClean = (what: string): void => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, `${what}: ${a.stdout}${a.stderr}`);
    assert.equal(modes(), '1 3', what);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0, `${what}: a second plan is empty`);
  };

  it('keeps the declared modes when a device or default secret is written', () => {
    applyClean('created with the device secret');
    edit(`stable_secret: ${secret(1)}`, `stable_secret: ${secret(2)}`);
    applyClean('device secret changed');
    edit(`      net.ipv6.conf.v2.addr_gen_mode: 3\n`, `      net.ipv6.conf.v2.addr_gen_mode: 3\n      net.ipv6.conf.default.stable_secret: ${secret(3)}\n`);
    const p = sb.run(['plan']);
    assert.match(p.stdout, /sysctl h1 net\.ipv6\.conf\.v2\.addr_gen_mode\n\s+# \(written again after net\.ipv6\.conf\.default\.stable_secret/, p.stdout);
    applyClean('default secret written');
  });

  it('destroy leaves nothing', () => {
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });
});

describe('a stable_secret written by an apply that then fails and rolls back', () => {
  const { sb, edit } = editableSandbox('v6keep', `namespaces:\n  - name: h1\n    sysctls: {}\nlinks:\n  - { name: b1, type: bridge, namespace: h1 }\n`);

  it('stays set (the kernel cannot unset it), and the rollback says so instead of "nothing changed"', () => {
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    edit('sysctls: {}', `sysctls:\n      net.ipv6.conf.b1.stable_secret: ${secret(4)}`);
    edit('namespace: h1 }\n', 'namespace: h1 }\n  - { name: b2, type: bridge, namespace: h1 }\n');
    // The secret is written first (step 1); the bridge's create (step 2) fails.
    const a = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: 'step=2,errno=5' } });
    assert.equal(a.code, 1, a.stdout + a.stderr);
    assert.match(a.stderr, /note: sysctl h1 net\.ipv6\.conf\.b1\.stable_secret keeps 2001:0db8:\S+: it was unset before the apply, and the kernel has no way to unset it/);
    assert.match(a.stderr, /rolled back; nothing changed but what the note\(s\) above say/);
    assert.equal(sb.exec('h1', ['cat', '/proc/sys/net/ipv6/conf/b1/stable_secret']).stdout.trim(), secret(4).replace(/"/g, ''));
  });

  it('destroy leaves nothing', () => {
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });
});
