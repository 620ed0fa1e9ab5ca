// Real kernel: alternative link names (`ip link property add dev X altname Y`; systemd gives NICs
// some). An altname shares the kernel's name space with link names, but a link dump reports each
// link by its name only. A link Voltron must create under a name that is some link's altname used
// to fail mid-apply (EEXIST, then a rollback); a host device named by its altname used to be
// reported as missing (ENODEV). Both are refused at plan time now, naming the link that holds the
// name and the command that frees it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { editableSandbox, liveOracle } from '../support/sandbox';

const CONFIG = [
  'namespaces:',
  '  - name: a',
  '  - name: b',
  'links:',
  '  - { name: br0, namespace: a, type: bridge }',
  'addresses:',
  '  - { address: 10.61.0.1/24, dev: br0, namespace: a }',
  '',
].join('\n');

describe('alternative link names', () => {
  const { sb, edit } = editableSandbox('alt', CONFIG);

  it('a link to create whose name is a live altname is refused before any write, and applies once the altname is gone', () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    // Someone else's links hold the names the config is about to declare, as altnames.
    sb.ip('a', ['link', 'add', 'other0', 'type', 'bridge']);
    sb.ip('a', ['link', 'property', 'add', 'dev', 'other0', 'altname', 'br1']);
    sb.ip('b', ['link', 'add', 'other1', 'type', 'bridge']);
    sb.ip('b', ['link', 'property', 'add', 'dev', 'other1', 'altname', 'p0']);
    edit('addresses:', '  - { name: br1, namespace: a, type: bridge }\n  - { name: v0, namespace: a, type: veth, master: br0, peer: { name: p0, namespace: b } }\naddresses:');
    const before = liveOracle(sb);
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /refusing to plan/);
      assert.match(r.stderr, /link a\/br1 \(bridge\): 'br1' is an alternative name of link a\/other0, and the kernel refuses a link of that name \(EEXIST\).*ip -n \S+-a link property del dev other0 altname br1/);
      assert.match(r.stderr, /link b\/p0 \(veth\), the peer end of link a\/v0 \(veth\): 'p0' is an alternative name of link b\/other1.*ip -n \S+-b link property del dev other1 altname p0/);
      assert.doesNotMatch(r.stdout + r.stderr, /Rolling back/);
    }
    assert.equal(liveOracle(sb), before, 'nothing was written');
    sb.ip('a', ['link', 'property', 'del', 'dev', 'other0', 'altname', 'br1']);
    sb.ip('b', ['link', 'property', 'del', 'dev', 'other1', 'altname', 'p0']);
    const ok = sb.run(['apply', '--auto-approve']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
    assert.equal(sb.ipj('a', ['link', 'show', 'other0']).length, 1, 'the foreign links stay');
    assert.equal(sb.ipj('b', ['link', 'show', 'other1']).length, 1);
  });

  it('an altname on an owned link changes nothing, and renaming the link to it in the config converges (the old link goes first)', () => {
    sb.ip('a', ['link', 'property', 'add', 'dev', 'br1', 'altname', 'br9']);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0, 'an altname is not drift');
    edit('{ name: br1, namespace: a, type: bridge }', '{ name: br9, namespace: a, type: bridge }');
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(sb.ipj('a', ['link', 'show', 'br9'])[0].ifname, 'br9');
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('a root host device named by its altname is refused with its name', () => {
    sb.ip('', ['link', 'add', 'up0', 'type', 'bridge']);
    sb.ip('', ['link', 'property', 'add', 'dev', 'up0', 'altname', 'uplink0']);
    edit('addresses:', '  - { name: mv0, type: macvlan, macvlan: { parent: uplink0, mode: bridge } }\naddresses:');
    const r = sb.run(['plan']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /\/macvlan\/parent: link \(root\)\/mv0 \(macvlan\): link 'uplink0' is an alternative name of host device 'up0'.*\(write 'up0'\)/);
    edit('parent: uplink0', 'parent: up0');
    const ok = sb.run(['apply', '--auto-approve']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
  });
});
