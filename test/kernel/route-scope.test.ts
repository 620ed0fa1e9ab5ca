// Real kernel: a route's scope and a VXLAN's `ttl inherit`. Voltron wrote link for every IPv4
// dev route and global otherwise, read no scope at all, and read `ttl inherit` as `ttl: 0`: a
// hand-made `scope host` route (or `ttl inherit` VXLAN) adopted through `show` planned empty,
// and the first edit of it rewrote it with scope link; a config could not declare either. Now
// `scope` is declared, written, read, compared and changed in place (NLM_F_REPLACE changes it),
// and `ttl: inherit` round-trips (set only at creation: a change of it recreates the VXLAN).
// `ip -j route` (scope) and `ip -d link` (`ttl inherit`, which `ip -j` leaves out) are the oracles.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox, editableSandbox } from '../support/sandbox';

const CONFIG = `namespaces: [ { name: n1 } ]
links:
  - { name: v0, namespace: n1, type: veth, peer: { name: v1 } }
  - { name: vx0, namespace: n1, type: vxlan, vxlan: { vni: 100, local: 10.80.0.1, ttl: inherit } }
addresses:
  - { address: 10.80.0.1/24, dev: v0, namespace: n1 }
routes:
  - { to: 10.81.0.0/24, dev: v0, namespace: n1 }
  - { to: 10.82.0.0/24, dev: v0, scope: host, namespace: n1 }
  - { to: 10.83.0.0/24, dev: v0, scope: global, namespace: n1 }
  - { to: 10.84.0.0/24, via: 10.80.0.2, namespace: n1 }
  - { to: 10.85.0.0/24, via: 10.80.0.2, scope: site, namespace: n1 }
  - { to: 10.86.0.0/24, via: 10.82.0.9, scope: link, namespace: n1 }
  - { to: 10.87.0.0/24, type: blackhole, scope: link, namespace: n1 }
  - { to: 10.88.0.0/24, type: unreachable, scope: 7, namespace: n1 }
  - { to: 10.89.0.0/24, dev: v0, scope: 253, namespace: n1 }
  - { to: 10.90.0.0/24, dev: v0, encap: { type: seg6, segments: ["2001:db8::9"] }, namespace: n1 }
`;

/** dst → scope as `ip -j route` prints it (absent: global), for the routes of protocol 194. */
function scopes(sb: Sandbox, logical: string, all = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of sb.ipj(logical, ['route', 'show']) as { dst: string; scope?: string; protocol?: string }[])
    if (all || r.protocol === '194') out[r.dst] = r.scope ?? 'global';
  return out;
}

const ttlOf = (sb: Sandbox, logical: string, dev: string): string | undefined => /\bttl (\S+)/.exec(sb.ip(logical, ['-d', 'link', 'show', dev]))?.[1];

describe('route scope and VXLAN ttl inherit (real kernel)', () => {
  it('declared scopes are written as declared (defaults as ip route makes them), read back, and replan empty', () => {
    const { sb, edit } = editableSandbox('scope', CONFIG);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(scopes(sb, 'n1'), {
      '10.81.0.0/24': 'link',
      '10.82.0.0/24': 'host',
      '10.83.0.0/24': 'global',
      '10.84.0.0/24': 'global',
      '10.85.0.0/24': 'site',
      '10.86.0.0/24': 'link',
      '10.87.0.0/24': 'link',
      '10.88.0.0/24': '7',
      '10.89.0.0/24': 'link',
      '10.90.0.0/24': 'link',
    });
    assert.equal(ttlOf(sb, 'n1', 'vx0'), 'inherit');
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);

    // A scope change is made in place (the kernel's replace takes it); ttl inherit → 64 recreates the VXLAN.
    edit('dev: v0, scope: global', 'dev: v0');
    edit('via: 10.80.0.2, scope: site', 'via: 10.80.0.2, scope: 100');
    edit('ttl: inherit', 'ttl: 64');
    const p2 = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p2.code, 2, p2.stdout + p2.stderr);
    assert.match(p2.stdout, /~ route n1 10\.83\.0\.0\/24\n.*\n\s+~ scope: global → link\n/);
    assert.match(p2.stdout, /~ route n1 10\.85\.0\.0\/24\n.*\n\s+~ scope: site → 100\n/);
    assert.match(p2.stdout, /-\/\+ link n1\/vx0 \(vxlan\)[\s\S]*'ttl inherit' only when it creates it/);
    assert.match(p2.stdout, /Plan: 0 to add, 2 to change, 1 to replace, 0 to destroy/);
    const a2 = sb.run(['apply', '--auto-approve']);
    assert.equal(a2.code, 0, a2.stdout + a2.stderr);
    const s = scopes(sb, 'n1');
    assert.equal(s['10.83.0.0/24'], 'link');
    assert.equal(s['10.85.0.0/24'], '100');
    assert.equal(ttlOf(sb, 'n1', 'vx0'), '64');
    const p3 = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p3.code, 0, p3.stdout + p3.stderr);
  });

  it('hand-made routes of other scopes and a ttl inherit VXLAN: show → config plans empty, and an edit keeps the scope and the ttl', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-scope-adopt-'));
    const sb = new Sandbox('scad', dir);
    after(() => {
      sb.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    execFileSync('ip', ['netns', 'add', sb.ns('')]);
    sb.ip('', ['link', 'set', 'lo', 'up']);
    sb.ip('', ['link', 'add', 'h0', 'type', 'veth', 'peer', 'name', 'h1']);
    for (const l of ['h0', 'h1']) sb.ip('', ['link', 'set', l, 'up']);
    sb.ip('', ['addr', 'add', '10.70.0.1/24', 'dev', 'h0']);
    sb.ip('', ['route', 'add', '10.71.0.0/24', 'dev', 'h0', 'scope', 'host', 'proto', 'static']);
    sb.ip('', ['route', 'add', '10.72.0.0/24', 'via', '10.70.0.2', 'scope', 'site', 'proto', 'static']);
    sb.ip('', ['route', 'add', 'blackhole', '10.73.0.0/24', 'scope', 'link', 'proto', 'static']);
    sb.ip('', ['route', 'add', '10.74.0.0/24', 'dev', 'h0', 'scope', 'global', 'proto', 'static']);
    sb.ip('', ['link', 'add', 'vxh', 'type', 'vxlan', 'id', '300', 'dstport', '4789', 'local', '10.70.0.1', 'ttl', 'inherit']);
    const before = scopes(sb, '', true);

    const s = sb.run(['show']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /- to: 10\.71\.0\.0\/24\n\s+dev: h0\n\s+scope: host\n/);
    assert.match(s.stdout, /ttl: inherit/);
    fs.writeFileSync(path.join(dir, 'net.yaml'), s.stdout);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);

    // An edit of each route (an mtu) and of the VXLAN (learning) is made in place, keeping what the config now says.
    let text = fs.readFileSync(path.join(dir, 'net.yaml'), 'utf8');
    for (const dst of ['10.71.0.0/24', '10.72.0.0/24', '10.74.0.0/24']) text = text.replace(`- to: ${dst}\n`, `- to: ${dst}\n    mtu: 1400\n`);
    text = text.replace('learning: true', 'learning: false');
    fs.writeFileSync(path.join(dir, 'net.yaml'), text);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /Plan: 0 to add, 4 to change, 0 to replace, 0 to destroy/);
    assert.deepEqual(scopes(sb, '', true), before, 'every route keeps its scope');
    const mtus = (sb.ipj('', ['route', 'show']) as { dst: string; metrics?: { mtu?: number }[] }[]).filter((r) => r.metrics?.some((m) => m.mtu === 1400)).map((r) => r.dst);
    assert.deepEqual(mtus.sort(), ['10.71.0.0/24', '10.72.0.0/24', '10.74.0.0/24']);
    assert.equal(ttlOf(sb, '', 'vxh'), 'inherit');
    const p2 = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p2.code, 0, p2.stdout + p2.stderr);
  });

  it('a gateway route of scope link is refused at plan time in the root, before any write', () => {
    const { sb } = editableSandbox(
      'scrt',
      `links:
  - { name: br0, type: bridge }
addresses:
  - { address: 10.60.0.1/24, dev: br0 }
routes:
  - { to: 10.61.0.0/24, via: 10.60.0.2, scope: link }
`,
    );
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /net\.yaml:6:\d+: \/routes\/0\/via: .*gateway '10\.60\.0\.2'.*Nexthop has invalid gateway/);
  });
});
