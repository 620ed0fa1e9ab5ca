// Real kernel: sysctls written back to their originals (a removal from the config, destroy) in a
// namespace that existed before Voltron. Restoring a broadcast key (ip_forward: the kernel copies
// it into every device and default) overwrote the device keys restored before it, and a
// broadcast update overwrote a device key restored in the same apply: neither converged, and a
// destroy could never finish (it rolled back).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

describe('broadcast sysctls restored with device keys of the same setting', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-restore-'));
  const file = path.join(dir, 'net.yaml');
  const sb = new Sandbox('rs', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const read = (key: string): string => sb.exec('r1', ['sysctl', '-n', key]).stdout.trim();
  const write = (sysctls: string): void => fs.writeFileSync(file, `namespaces:\n  - name: r1\n    sysctls:\n${sysctls}`);
  const applyClean = (): void => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  };
  const both = '      net.ipv4.ip_forward: 0\n      net.ipv4.conf.lo.forwarding: 1\n';

  it('a device key dropped while ip_forward changes goes back to its original, after the broadcast', () => {
    // Adopted: forwarding on, but not on lo.
    execFileSync('ip', ['netns', 'add', sb.ns('r1')]);
    execFileSync('ip', ['netns', 'exec', sb.ns('r1'), 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.lo.forwarding=0']);
    write(both);
    applyClean();
    assert.deepEqual([read('net.ipv4.ip_forward'), read('net.ipv4.conf.lo.forwarding')], ['0', '1']);
    write('      net.ipv4.ip_forward: 1\n');
    applyClean();
    assert.deepEqual([read('net.ipv4.ip_forward'), read('net.ipv4.conf.lo.forwarding')], ['1', '0']);
  });

  it('destroy writes back ip_forward, then the device key over its broadcast', () => {
    write(both);
    applyClean();
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual([read('net.ipv4.ip_forward'), read('net.ipv4.conf.lo.forwarding'), read('net.ipv4.conf.default.forwarding')], ['1', '0', '1']);
    assert.deepEqual(sb.namespaces(), [sb.ns('r1')]); // adopted: left in place
  });
});
