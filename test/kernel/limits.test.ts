// Real kernel: values at the kernel's own size limits apply and read back (the largest alias,
// a VNI filter of 2^18 VNIs, VXLAN remotes at the top of the IPv4 space, lo's own subnet).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

describe('kernel size limits', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-limits-'));
  const file = path.join(dir, 'net.yaml');
  const sb = new Sandbox('lim', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const applyClean = () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  };
  const aliasOf = (name: string): string | undefined => sb.ipj('', ['-d', 'link', 'show', name])[0].ifalias;

  it('a 255-byte alias (the most IFLA_IFALIAS holds) is set at create and in place', () => {
    // 255 bytes sent NUL-terminated are 256: the kernel refused them (ERANGE).
    const ascii = 'a'.repeat(255);
    const utf8 = `${'é'.repeat(127)}a`;
    fs.writeFileSync(file, `links:\n  - { name: d0, type: bridge, alias: "${ascii}" }\n`);
    applyClean();
    assert.equal(aliasOf('d0'), ascii);
    fs.writeFileSync(file, `links:\n  - { name: d0, type: bridge, alias: "${utf8}" }\n`);
    applyClean();
    assert.equal(aliasOf('d0'), utf8);
  });

  it('a VXLAN remote in 240/4 (the broadcast address too) reads back as a remote, not a group', () => {
    // The reader took every first octet >= 224 for multicast: the apply never converged.
    fs.writeFileSync(file, `links:\n  - { name: vx2, type: vxlan, vxlan: { vni: 42, remote: 255.255.255.255 } }\n  - { name: vx3, type: vxlan, vxlan: { vni: 43, remote: 240.0.0.1 } }\n`);
    applyClean();
    assert.match(sb.exec('', ['ip', '-d', 'link', 'show', 'vx3']).stdout, /remote 240\.0\.0\.1/);
  });

  it('another 127/8 address on lo (a secondary of its own 127.0.0.1/8) applies', () => {
    // Sent with scope global, it was refused ("Invalid scope value"): ip(8) uses scope host.
    fs.writeFileSync(file, `addresses:\n  - { address: 127.0.0.2/8, dev: lo }\n`);
    applyClean();
    assert.match(sb.exec('', ['ip', 'addr', 'show', 'dev', 'lo']).stdout, /inet 127\.0\.0\.2\/8 scope host secondary/);
  });

  it('a VNI filter of 2^18 VNIs in ranges applies, replans empty and changes in place', () => {
    // One entry per VNI made a 3 MB request: EMSGSIZE (over the socket's send buffer).
    const vnis = (r: string) => `links:\n  - { name: vx1, type: vxlan, vxlan: { external: true, vnifilter: true }, vnis: [ ${r} ] }\n`;
    fs.writeFileSync(file, vnis('"1-65536", "65537-131072", "131073-196608", "196609-262144"'));
    applyClean();
    const show = () => sb.exec('', ['bridge', 'vni', 'show', 'dev', 'vx1']).stdout.match(/\d+(-\d+)?(?=\s*$)/gm);
    assert.deepEqual(show(), ['1-262144']);
    fs.writeFileSync(file, vnis('"1-65536", "65538-131072", "131073-196608", "196609-262144"'));
    const p = sb.run(['plan']);
    assert.match(p.stdout, /~ vnis: \[1-262144\] → \[1-65536, 65538-262144\]\n/);
    applyClean();
    assert.deepEqual(show(), ['1-65536', '65538-262144']);
  });
});
