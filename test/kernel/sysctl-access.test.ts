// Real kernel: declared sysctls that exist but cannot be written (read-only in the namespace) or
// read back (write-only: an action such as route.flush) are refused by the plan before any write,
// naming file and line, like keys the kernel lacks. They passed the plan: the read-only ones
// failed mid-apply (EACCES, rolled back), a write-only one was written and then never verified.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox, editableSandbox } from '../support/sandbox';
import { refusedSysctlValues } from '../../src/kernel/sysctl';

describe('sysctls the plan cannot write or read back', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-access-'));
  fs.writeFileSync(
    path.join(dir, 'net.yaml'),
    [
      'namespaces:',
      '  - name: a',
      '    sysctls:',
      '      net.ipv4.ip_forward: 1',
      '      net.ipv4.conf.all.mc_forwarding: 1',
      '      net.core.rmem_max: 1000000',
      '      net.ipv4.route.flush: 1',
      '',
    ].join('\n'),
  );
  const sb = new Sandbox('ac', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const refused = (r: { code: number; stdout: string; stderr: string }, ns: string): void => {
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`net\\.yaml:5:7: sysctl a net\\.ipv4\\.conf\\.all\\.mc_forwarding: the sysctl is read-only in ${ns} .*\\(EACCES\\)`));
    assert.match(r.stderr, new RegExp(`net\\.yaml:6:7: sysctl a net\\.core\\.rmem_max: the sysctl is read-only in ${ns} `));
    assert.match(r.stderr, /net\.yaml:7:7: sysctl a net\.ipv4\.route\.flush: the sysctl is write-only .*never verify/);
    assert.doesNotMatch(r.stderr, /ip_forward/);
  };

  it('in a namespace the apply would create: refused, nothing written', () => {
    refused(sb.run(['plan']), 'a new namespace');
    refused(sb.run(['apply', '--auto-approve']), 'a new namespace');
    assert.deepEqual(sb.namespaces(), []);
  });

  it('in a namespace that exists: refused, its sysctls untouched', () => {
    execFileSync('ip', ['netns', 'add', sb.ns('a')]);
    refused(sb.run(['apply', '--auto-approve']), `namespace ${sb.ns('a')}`);
    assert.equal(sb.exec('a', ['sysctl', '-n', 'net.ipv4.ip_forward']).stdout.trim(), '0');
    assert.deepEqual(sb.namespaces(), [sb.ns('a')]);
  });
});

describe('device sysctls of a device neither there nor made by the plan', () => {
  const { sb, file } = editableSandbox('ad', ''); // written below, per case
  // A namespace that existed before Voltron, with an ignore list: undeclared devices are left to
  // the kernel, so validation does not judge device names there; the plan did not either (ENOENT
  // mid-apply), unless the device was one the plan creates.
  const write = (extra: string): void =>
    fs.writeFileSync(
      file,
      `ignore: ["zz*"]\nnamespaces:\n  - name: b\n    sysctls:\n      net.ipv4.conf.n2.rp_filter: 1\n${extra}` +
        `links:\n  - { name: n1, namespace: b, type: veth, peer: { name: n2, namespace: b } }\n`,
    );

  it('is refused before any write; one of a device the plan creates is not', () => {
    execFileSync('ip', ['netns', 'add', sb.ns('b')]);
    write('      net.ipv4.conf.d9.forwarding: 1\n');
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`net\\.yaml:6:7: sysctl b net\\.ipv4\\.conf\\.d9\\.forwarding: namespace ${sb.ns('b')} has no such sysctl .*no device d9 there`));
    assert.doesNotMatch(r.stderr, /n2/);
    assert.deepEqual(sb.ipj('b', ['link', 'show']).map((l: { ifname: string }) => l.ifname), ['lo']);
    write('');
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(sb.exec('b', ['sysctl', '-n', 'net.ipv4.conf.n2.rp_filter']).stdout.trim(), '1');
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
  });
});

describe('values tried in a throwaway namespace', () => {
  it('the same key and value on thousands of devices is tried once (each try of an IPv6 key takes the RTNL lock)', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => ({ key: `net.ipv6.conf.b${i}.forwarding`, value: '1', device: `b${i}` }));
    const bad = { key: 'net.ipv4.conf.b7.rp_filter', value: 'x', device: 'b7' }; // not a number: EINVAL
    const writeFileSync = fs.writeFileSync;
    let writes = 0;
    fs.writeFileSync = ((...args: Parameters<typeof fs.writeFileSync>) => {
      writes++;
      return writeFileSync(...args);
    }) as typeof fs.writeFileSync;
    let refused;
    try {
      refused = refusedSysctlValues([...keys, bad, { ...bad, device: 'b8', key: 'net.ipv4.conf.b8.rp_filter' }]);
    } finally {
      fs.writeFileSync = writeFileSync;
    }
    assert.deepEqual([...refused.keys()].map((k) => k.key), ['net.ipv4.conf.b7.rp_filter', 'net.ipv4.conf.b8.rp_filter']);
    assert.match(refused.get(bad)!, /refuses the value 'x'/);
    // forwarding=1 on lo and back to what it was (no answer depends on the values tried before
    // it); 'x' was refused, so nothing to put back.
    assert.equal(writes, 3);
  });
});
