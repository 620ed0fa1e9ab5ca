// Real kernel: namespaces as objects. Pruning a namespace removes the veths crossing out of it
// at once (their peers in namespaces that stay are gone when apply returns), in one kernel
// teardown rather than one per veth. Per-device sysctls of a device whose name has a '.'
// (written `/` in the key, as for sysctl(8)), on a device the same apply creates.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const CROSSING = 100;

function yaml(withSpoke: boolean): string {
  const lines = ['namespaces:', '  - name: hub'];
  if (withSpoke) lines.push('  - name: spoke');
  lines.push('links:', '  - { name: br0, type: bridge, namespace: hub }');
  if (withSpoke) {
    for (let i = 0; i < CROSSING; i++) lines.push(`  - { name: s${i}, type: veth, namespace: spoke, peer: { name: h${i}, namespace: hub } }`);
  }
  return `${lines.join('\n')}\n`;
}

describe('namespaces', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-ns-'));
  const file = path.join(dir, 'network.yaml');
  const sb = new Sandbox('ns', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a file in /run/netns that is no namespace is named in a clear error, not a bare EINVAL', () => {
    fs.writeFileSync(file, yaml(false));
    const stale = `/run/netns/${sb.ns('hub')}`;
    fs.writeFileSync(stale, '');
    try {
      const p = sb.run(['plan']);
      assert.equal(p.code, 1, p.stdout + p.stderr);
      assert.match(p.stderr, new RegExp(`${stale} is not a network namespace .*ip netns del ${sb.ns('hub')}`));
      assert.doesNotMatch(p.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      fs.rmSync(stale, { force: true });
    }
  });

  it(`pruning a namespace removes its ${CROSSING} crossing veths at once, peers included`, () => {
    fs.writeFileSync(file, yaml(true));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(sb.ipj('hub', ['link', 'show', 'type', 'veth']).length, CROSSING);
    fs.writeFileSync(file, yaml(false));
    const p = sb.run(['apply', '--auto-approve']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /deleted: namespace spoke/);
    // Gone when apply returns (the kernel tears a deleted namespace down later, asynchronously).
    assert.deepEqual(sb.ipj('hub', ['link', 'show', 'type', 'veth']), []);
    assert.deepEqual(sb.namespaces(), [sb.ns(''), sb.ns('hub')].sort());
    // One teardown (~30 ms) instead of one per veth (16-30 ms each: 1.6 s and more).
    const ms = Number(/Apply complete: .*?, (\d+) ms\./.exec(p.stdout)?.[1]);
    assert.ok(ms < 800, `apply took ${ms} ms`);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});

describe('sysctls of a device with a dot in its name', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-ns-'));
  const file = path.join(dir, 'network.yaml');
  const sb = new Sandbox('nsd', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const config = (sysctls: string) => `namespaces:\n  - name: a\n${sysctls}links:\n  - { name: v.1, type: bridge, namespace: a }\n`;
  const rpFilter = () => sb.exec('a', ['sysctl', '-n', 'net.ipv4.conf.v/1.rp_filter']).stdout.trim();

  it('net.ipv4.conf.v/1.rp_filter is device v.1\'s, set in the apply that creates v.1 and restored on removal', () => {
    fs.writeFileSync(file, config('    sysctls:\n      net.ipv4.conf.v/1.rp_filter: 2\n'));
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(rpFilter(), '2');
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    fs.writeFileSync(file, config(''));
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(rpFilter(), '0');
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});

