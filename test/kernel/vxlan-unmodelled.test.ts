// Real kernel: a VXLAN with options Voltron never writes and that change its packets (`gbp`,
// remote checksum offload) read as a plain VXLAN, so a declared VXLAN of the same name, VNI and
// port passed for it: "No changes" over a device that sends another packet format, and `show`
// printed it as declarable. Now the plan refuses (naming the `ip link del`), zero writes, and
// `show` lists it under x-unmanaged-links. `ip -d -j link` is the oracle.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const CONFIG = `links:
  - { name: vxg, type: vxlan, vxlan: { vni: 42, dstport: 4789 } }
  - { name: vxp, type: vxlan, vxlan: { vni: 43, dstport: 4789 } }
`;

describe('a VXLAN with gbp or remote checksum offload is never taken for a declared one (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-vxlan-unmodelled-'));
  fs.writeFileSync(path.join(dir, 'net.yaml'), CONFIG);
  const sb = new Sandbox('vxu', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const vxg = () => sb.ipj('', ['-d', 'link', 'show', 'vxg'])[0] as { ifindex: number; linkinfo: { info_data: Record<string, unknown> } };

  it('plan refuses the declared VXLAN over a gbp one, and show lists it as unmanaged', () => {
    execFileSync('ip', ['netns', 'add', sb.ns('')]);
    sb.ip('', ['link', 'add', 'vxg', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'gbp']);
    sb.ip('', ['link', 'add', 'vxp', 'type', 'vxlan', 'id', '43', 'dstport', '4789']);
    assert.equal(vxg().linkinfo.info_data.gbp, true, 'the oracle sees gbp');
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /link \(root\)\/vxg \(vxlan\): the vxlan there has what Voltron never writes \(gbp\), which changes its packets; .*ip -n \S+ link del vxg/);
    assert.doesNotMatch(p.stderr, /vxp/, 'the plain VXLAN made by ip is adopted');
    const s = sb.run(['show']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /x-unmanaged-links:[\s\S]*name: vxg\n\s+kind: vxlan\n\s+form: gbp\n/);
    assert.match(s.stdout, /^links:\n[\s\S]*name: vxp/m);
  });

  it('apply writes nothing; once the gbp VXLAN is deleted by hand, Voltron creates its own', () => {
    const before = vxg().ifindex;
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 1, a.stdout + a.stderr);
    assert.equal(vxg().ifindex, before, 'not replaced');
    assert.equal(vxg().linkinfo.info_data.gbp, true, 'not changed');
    sb.ip('', ['link', 'del', 'vxg']);
    const b = sb.run(['apply', '--auto-approve']);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.equal(vxg().linkinfo.info_data.gbp, undefined);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('remote checksum offload counts too', () => {
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    sb.ip('', ['link', 'del', 'vxp']);
    sb.ip('', ['link', 'add', 'vxg', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'remcsumtx', 'remcsumrx']);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /\(remcsumtx remcsumrx\)/);
  });
});
