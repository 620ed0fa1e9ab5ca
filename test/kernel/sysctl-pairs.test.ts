// Real kernel: sysctls the kernel checks against each other (ip_unprivileged_port_start ≤ the
// low end of ip_local_port_range, ipfrag_low_thresh ≤ ipfrag_high_thresh). Each value was judged
// alone against a new namespace's other key: a valid pair (`80 1000` with 80) was refused, an
// invalid one (`2000 3000` with 5000) planned and failed after the first write. Now the plan
// writes a pair in the order every step of which the kernel takes, and refuses a final pair it
// would not, with both positions, before any write.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { editableSandbox } from '../support/sandbox';

const ns = (body: string): string => `namespaces:\n  - name: a\n    sysctls:\n${body}`;

describe('sysctl pairs the kernel checks against each other', () => {
  const { sb, file } = editableSandbox('sp', ns('      net.ipv4.ip_local_port_range: "80 1000"\n      net.ipv4.ip_unprivileged_port_start: 80\n'));
  const get = (key: string): string => sb.exec('a', ['sysctl', '-n', key]).stdout.trim().replace(/\s+/g, ' ');
  const applied = (): void => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Verified/);
    const again = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  };

  it('a valid pair below a new namespace’s bounds applies (unprivileged port start written first)', () => {
    applied();
    assert.equal(get('net.ipv4.ip_local_port_range'), '80 1000');
    assert.equal(get('net.ipv4.ip_unprivileged_port_start'), '80');
  });

  it('raising both past the live range applies (the range written first)', () => {
    fs.writeFileSync(file, ns('      net.ipv4.ip_local_port_range: "6000 7000"\n      net.ipv4.ip_unprivileged_port_start: 5000\n'));
    applied();
    assert.equal(get('net.ipv4.ip_local_port_range'), '6000 7000');
    assert.equal(get('net.ipv4.ip_unprivileged_port_start'), '5000');
  });

  it('a final pair the kernel refuses is refused by the plan, naming both positions, with no write', () => {
    fs.writeFileSync(file, ns('      net.ipv4.ip_local_port_range: "2000 3000"\n      net.ipv4.ip_unprivileged_port_start: 4000\n'));
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const f = path.basename(file);
    assert.match(r.stderr, new RegExp(`${f}:5:7: sysctl a net\\.ipv4\\.ip_unprivileged_port_start: 4000 is above the low end of net\\.ipv4\\.ip_local_port_range, 2000 3000 \\(declared at [^)]*${f}:4:7\\)`));
    assert.match(r.stderr, /EINVAL/);
    assert.equal(get('net.ipv4.ip_local_port_range'), '6000 7000');
    assert.equal(get('net.ipv4.ip_unprivileged_port_start'), '5000');
  });

  it('one key declared: judged against the other key’s live value, not a new namespace’s', () => {
    // Removing the port start from the config writes its original (1024) back: a range below
    // it is refused; one above it applies.
    fs.writeFileSync(file, ns('      net.ipv4.ip_local_port_range: "900 7000"\n'));
    const r = sb.run(['plan']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /sysctl a net\.ipv4\.ip_local_port_range: the low end of 900 7000 is below net\.ipv4\.ip_unprivileged_port_start, 1024 \(its original value, written back: no longer declared\)/);
    fs.writeFileSync(file, ns('      net.ipv4.ip_local_port_range: "1100 7000"\n'));
    applied();
    assert.equal(get('net.ipv4.ip_unprivileged_port_start'), '1024');
    // Set by someone else: the live value counts.
    assert.equal(sb.exec('a', ['sysctl', '-qw', 'net.ipv4.ip_unprivileged_port_start=500']).code, 0);
    fs.writeFileSync(file, ns('      net.ipv4.ip_local_port_range: "600 7000"\n'));
    applied();
    assert.equal(get('net.ipv4.ip_local_port_range'), '600 7000');
    fs.writeFileSync(file, ns('      net.ipv4.ip_local_port_range: "400 7000"\n'));
    const low = sb.run(['plan']);
    assert.equal(low.code, 1, low.stdout + low.stderr);
    assert.match(low.stderr, /below net\.ipv4\.ip_unprivileged_port_start, 500 \(its value now, not declared\)/);
  });

  it('fragment thresholds: lowered both, then raised both, each in the order that works', () => {
    for (const [lo, hi] of [
      ['500000', '1000000'],
      ['6000000', '8000000'],
    ]) {
      fs.writeFileSync(file, ns(`      net.ipv4.ipfrag_high_thresh: ${hi}\n      net.ipv4.ipfrag_low_thresh: ${lo}\n      net.ipv6.ip6frag_high_thresh: ${hi}\n      net.ipv6.ip6frag_low_thresh: ${lo}\n`));
      applied();
      assert.equal(get('net.ipv4.ipfrag_low_thresh'), lo);
      assert.equal(get('net.ipv4.ipfrag_high_thresh'), hi);
      assert.equal(get('net.ipv6.ip6frag_low_thresh'), lo);
      assert.equal(get('net.ipv6.ip6frag_high_thresh'), hi);
    }
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    assert.deepEqual(sb.namespaces(), []);
  });
});
