// Real kernel: link names reused and changed. A veth end that takes the name of an owned link
// (deleted first, brought back by the pair) is Voltron's: it used to be left out of the
// inventory, so a later replace of the pair was refused as one of a foreign link. Two owned links
// whose names someone swapped are refused (Voltron neither renames links nor takes one over by
// name), saying they are Voltron's own links renamed, not someone else's. One renamed away (its
// name free) is named in a warning: the plan creates it again beside the renamed one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { editableSandbox } from '../support/sandbox';

const CONFIG = [
  'namespaces:',
  '  - name: a',
  '  - name: b',
  'links:',
  '  - { name: q, namespace: b, type: bridge }',
  '  - { name: br1, namespace: a, type: bridge }',
  '  - { name: br2, namespace: a, type: bridge }',
  'addresses:',
  '  - { address: 10.62.0.1/24, dev: q, namespace: b }',
  '',
].join('\n');

describe('link names reused and changed', () => {
  const { sb, edit } = editableSandbox('ren', CONFIG);

  it('a veth end that takes an owned link\'s name is owned: the pair can be replaced later', () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    edit('{ name: q, namespace: b, type: bridge }', '{ name: w0, namespace: a, type: veth, peer: { name: q, namespace: b } }');
    const b = sb.run(['apply', '--auto-approve']);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.match(b.stdout, /deleted: link b\/q \(bridge\)/);
    assert.ok(sb.inventory().owned['link:b/q'], 'the end the pair brought back is owned');
    // Renaming the primary end recreates the pair, its other end included.
    edit('name: w0,', 'name: w1,');
    const c = sb.run(['apply', '--auto-approve']);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.equal(sb.ipj('a', ['link', 'show', 'w1']).length, 1);
    assert.deepEqual(sb.ipj('b', ['-4', 'addr', 'show', 'q']).flatMap((l: { addr_info: { local: string }[] }) => l.addr_info.map((x) => x.local)), ['10.62.0.1']);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('two owned links whose names were swapped are refused as Voltron\'s own, renamed', () => {
    for (const [from, to] of [['br1', 'tmp0'], ['br2', 'br1'], ['tmp0', 'br2']]) {
      sb.ip('a', ['link', 'set', from!, 'down']);
      sb.ip('a', ['link', 'set', from!, 'name', to!]);
    }
    const r = sb.run(['plan']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /link a\/br1 \(bridge\): a link Voltron created holds another name now \(ifindex \d+, Voltron's was \d+: renamed by hand, this one is Voltron's link a\/br2 \(bridge\); Voltron's is now named br2\)/);
    assert.match(r.stderr, /link a\/br2 \(bridge\): a link Voltron created holds another name now \(.*this one is Voltron's link a\/br1 \(bridge\); Voltron's is now named br1\)/);
    assert.doesNotMatch(r.stderr, /one it did not create/);
    // Names given back: in sync again (set up by the plan).
    for (const [from, to] of [['br1', 'tmp0'], ['br2', 'br1'], ['tmp0', 'br2']]) sb.ip('a', ['link', 'set', from!, 'name', to!]);
    const ok = sb.run(['apply', '--auto-approve']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('an owned link renamed away is named in a warning: created again beside it, and the renamed one left alone', () => {
    sb.ip('a', ['link', 'set', 'br1', 'down']);
    sb.ip('a', ['link', 'set', 'br1', 'name', 'brX']);
    const index = sb.ipj('a', ['link', 'show', 'brX'])[0].ifindex as number;
    const p = sb.run(['plan', '-o', 'json']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.deepEqual(JSON.parse(p.stdout).renamed_away, [`link a/br1 (bridge) (now brX, ifindex ${index})`]);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /Warning: 1 link Voltron created is live under another name \(renamed by hand\); Voltron neither renames nor deletes it .*:\n {2}- link a\/br1 \(bridge\) \(now brX, ifindex \d+\)/);
    assert.equal(sb.ipj('a', ['link', 'show', 'brX']).length, 1, 'the renamed link is left alone');
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});
