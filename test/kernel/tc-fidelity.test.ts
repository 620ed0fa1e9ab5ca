// tc fidelity on the real kernel, through the CLI: what a change of an htb qdisc's own options
// keeps (the kernel's htb has no change operation, so Voltron recreates it and restores what hangs
// below), and `show` of hand-made ingress/clsact qdiscs loading back as a config that plans empty.
// `tc` is the oracle.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { REPO, editableSandbox } from '../support/sandbox';

const LINK_ONLY = `namespaces:
  - name: b
links:
  - { namespace: b, name: e0, type: veth, peer: { name: e1 }, state: up }
`;
const TREE = `qdiscs:
  - { namespace: b, dev: e0, parent: root, handle: "1:", kind: htb, default: 10, r2q: 10 }
  - { namespace: b, dev: e0, parent: "1:10", handle: "10:", kind: pfifo, limit: 50 }
classes:
  - { namespace: b, dev: e0, classid: "1:10", rate: 10mbit }
  - { namespace: b, dev: e0, classid: "1:20", rate: 20mbit }
`;

describe('an htb qdisc option change (recreated: the kernel cannot change htb in place)', () => {
  const { sb, file, edit } = editableSandbox('tcf', LINK_ONLY);
  const tc = (...args: string[]) => {
    const r = sb.exec('b', ['tc', ...args]);
    assert.equal(r.code, 0, `tc ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** `tc -d class show` (htb classes print as text even with -j): classid → its fields. */
  const classes = () =>
    new Map(
      tc('-d', 'class', 'show', 'dev', 'e0')
        .split('\n')
        .flatMap((l) => {
          const m = /^class htb (\S+) .*?prio (\d+) quantum (\d+) rate (\S+) .*? burst (\S+) /.exec(l);
          return m ? [[m[1]!, { prio: Number(m[2]), quantum: Number(m[3]), rate: m[4], burst: m[5] }] as const] : [];
        }),
    );

  it('adopts an htb tree made by hand with tuned classes, a direct_qlen and a u32 filter', () => {
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    tc('qdisc', 'add', 'dev', 'e0', 'root', 'handle', '1:', 'htb', 'default', '10', 'r2q', '10', 'direct_qlen', '77');
    tc('class', 'add', 'dev', 'e0', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10mbit');
    tc('class', 'add', 'dev', 'e0', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '20mbit', 'burst', '40k', 'prio', '4', 'quantum', '3000');
    tc('qdisc', 'add', 'dev', 'e0', 'parent', '1:10', 'handle', '10:', 'pfifo', 'limit', '50');
    tc('filter', 'add', 'dev', 'e0', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'dst', '10.0.0.2', 'flowid', '1:20');
    fs.appendFileSync(file, TREE);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });

  it('r2q and default change: classes keep their hand-set tuning, a kernel-derived quantum follows the new r2q', () => {
    assert.equal(classes().get('1:10')?.quantum, 125_000); // 10mbit / r2q 10
    edit('default: 10, r2q: 10', 'default: 20, r2q: 20');
    const refused = sb.run(['plan']);
    assert.equal(refused.code, 1, 'the hand-made filter would go with the old htb');
    assert.match(refused.stderr, /not filters it does not own \(filter b\/e0 parent 1: protocol ip pref 1 u32\)/);
    tc('filter', 'del', 'dev', 'e0', 'parent', '1:', 'pref', '1');
    const p = sb.run(['plan']);
    assert.match(p.stdout, /~ qdisc b\/e0 root htb {2}\[disruptive\]/);
    assert.match(p.stdout, /htb cannot change options in place: recreated with its classes/);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);

    const root = JSON.parse(tc('-j', 'qdisc', 'show', 'dev', 'e0', 'root'))[0];
    assert.equal(root.options.r2q, 20);
    assert.equal(root.options.default, '0x20');
    assert.equal(root.options.direct_qlen, 77, "the live htb's direct_qlen is kept (was reset to the txqueuelen)");
    const c = classes();
    assert.deepEqual(c.get('1:10'), { prio: 0, quantum: 62_500, rate: '10Mbit', burst: '1600b/1' }, 'quantum 10mbit / r2q 20 (was kept at / 10)');
    assert.deepEqual(c.get('1:20'), { prio: 4, quantum: 3000, rate: '20Mbit', burst: '40Kb/1' }, 'hand-set burst, prio, quantum kept');
    const leaf = JSON.parse(tc('-j', 'qdisc', 'show', 'dev', 'e0')).find((q: { handle: string }) => q.handle === '10:');
    assert.equal(leaf?.options?.limit, 50, 'the leaf qdisc is restored');
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0, 'converged');
  });
});

describe('show of hand-made ingress and clsact qdiscs loads back and plans empty', () => {
  const { sb, file } = editableSandbox('tcs', `${LINK_ONLY}  - { namespace: b, name: f0, type: veth, peer: { name: f1 }, state: up }\n`);

  it('prints the ingress qdisc as what it is, the clsact as a qdisc', () => {
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    for (const args of [
      ['qdisc', 'add', 'dev', 'e0', 'ingress'],
      ['qdisc', 'add', 'dev', 'e0', 'root', 'handle', '1:', 'htb', 'default', '10'],
      ['qdisc', 'add', 'dev', 'f0', 'clsact'],
    ])
      assert.equal(sb.exec('b', ['tc', ...args]).code, 0, args.join(' '));
    // Without the counter of packets sent past the classes (IPv6 DAD and RS go out meanwhile).
    const qdiscs = () => JSON.parse(sb.exec('b', ['tc', '-j', 'qdisc', 'show']).stdout).map(({ options: { direct_packets_stat: _, ...o }, ...q }: any) => ({ ...q, options: o }));
    const before = qdiscs();
    const s = sb.run(['show']);
    assert.equal(s.code, 0, s.stderr);
    const doc = YAML.parse(s.stdout);
    assert.deepEqual(doc['x-unmanaged-qdiscs'], [{ dev: 'e0', handle: 'ffff:', kind: 'ingress', form: 'kind ingress is not modelled (a clsact qdisc has the same ingress hook)', namespace: 'b' }]);
    assert.deepEqual(
      doc.qdiscs.map((q: Record<string, unknown>) => `${q.dev} ${q.parent ?? '-'} ${q.kind}`),
      ['e0 root htb', 'f0 - clsact'],
    );

    fs.writeFileSync(file, s.stdout);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /No changes/);
    assert.deepEqual(qdiscs(), before, 'nothing written');
  });
});

describe('a clsact egress program on a device whose slot holds an ingress qdisc', () => {
  const { sb, file } = editableSandbox('tci', LINK_ONLY);

  it('is refused at plan time, naming the tc qdisc del (the ingress qdisc would run it on ingress traffic)', () => {
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    assert.equal(sb.exec('b', ['tc', 'qdisc', 'add', 'dev', 'e0', 'ingress']).code, 0);
    const program = (direction: string) =>
      `bpf:\n  programs:\n    - name: cnt\n      object: ${path.join(REPO, 'dist/bpf/counter.bpf.o')}\n      program: count_packets\n` +
      `      attach: { type: clsact, namespace: b, dev: e0, direction: ${direction} }\n      maps: [ counters ]\n`;
    fs.writeFileSync(file, LINK_ONLY + program('egress'));
    const p = sb.run(['plan']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /clsact egress on b\/e0: the device has an ingress qdisc Voltron did not put there/);
    assert.match(p.stderr, new RegExp(`tc -n ${sb.ns('b')} qdisc del dev e0 ingress`));
    // Its ingress hook takes an ingress program as a clsact's would.
    fs.writeFileSync(file, LINK_ONLY + program('ingress'));
    assert.equal(sb.run(['plan']).code, 0);
  });
});

describe('an htb option change with an htb nested under one of its classes', () => {
  const NESTED = `qdiscs:
  - { namespace: b, dev: e0, parent: root, handle: "1:", kind: htb, default: 10 }
  - { namespace: b, dev: e0, parent: "1:10", handle: "10:", kind: htb, default: 1, r2q: 5 }
classes:
  - { namespace: b, dev: e0, classid: "1:10", rate: 10mbit }
  - { namespace: b, dev: e0, classid: "10:1", rate: 1mbit }
`;
  const { sb, edit } = editableSandbox('tcn', LINK_ONLY + NESTED);
  const tc = (...args: string[]) => {
    const r = sb.exec('b', ['tc', ...args]);
    assert.equal(r.code, 0, `tc ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  it('restores the nested htb with its options and classes (was: EINVAL restoring it, and a rollback that lost it)', () => {
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    // A hand-made leaf under the nested htb's class comes back too.
    tc('qdisc', 'add', 'dev', 'e0', 'parent', '10:1', 'handle', '11:', 'bfifo', 'limit', '30000');
    const nested = () => JSON.parse(tc('-j', 'qdisc', 'show', 'dev', 'e0')).filter((q: { handle: string }) => q.handle !== '1:').map(({ options: { direct_packets_stat: _, ...o }, ...q }: any) => ({ ...q, options: o }));
    const before = nested();
    assert.equal(before.length, 2);
    edit('handle: "1:", kind: htb, default: 10', 'handle: "1:", kind: htb, default: 20');
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(JSON.parse(tc('-j', 'qdisc', 'show', 'dev', 'e0', 'root'))[0].options.default, '0x20');
    assert.deepEqual(nested(), before, 'the nested htb (default 0x1, r2q 5) and its leaf are as they were');
    assert.match(tc('class', 'show', 'dev', 'e0'), /class htb 10:1 root leaf 11: prio 0 rate 1Mbit/);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0, 'converged');
  });
});
