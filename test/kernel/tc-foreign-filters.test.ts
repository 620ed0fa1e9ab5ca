// Real kernel: tc filters and classes someone added by hand on a qdisc Voltron owns. Voltron
// reads filters only on clsact hooks, but the kernel removes a u32 filter on an htb with the
// htb (deleted or replaced) and with its link: the plan must name them among the foreign objects
// it removes. An htb options change recreates the htb, restoring its classes but not its
// filters: the plan refuses it, naming the `tc filter del` to run first.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigFromStrings } from '../../src/config/load';
import { makePlan } from '../../src/apply/reconcile';
import { KernelSession } from '../../src/kernel/session';
import '../../src/kernel/tc/register';
import { removedForeignFilters } from '../../src/kernel/tc/foreign';
import { EMPTY_INVENTORY } from '../../src/plan/types';
import { editableSandbox } from '../support/sandbox';

const QDISC = `  - { namespace: a, dev: br0, parent: root, handle: "1:", kind: htb, default: 10 }\n`;
const CONFIG = `namespaces:
  - name: a
links:
  - { namespace: a, name: br0, type: bridge }
qdiscs:
${QDISC}classes:
  - { namespace: a, dev: br0, classid: "1:10", rate: 10mbit }
`;

describe('foreign tc filters and classes on an owned htb (real kernel)', () => {
  const { sb, edit } = editableSandbox('tcf', CONFIG);
  const tc = (...args: string[]) => {
    const r = sb.exec('a', ['tc', ...args]);
    assert.equal(r.code, 0, r.stderr);
  };
  const warning = (): string => {
    const r = sb.run(['plan']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return r.stdout + r.stderr;
  };
  const U32 = 'filter a/br0 parent 1: protocol ip pref 5 u32';
  const U32_CLASS = 'filter a/br0 parent 1:10 protocol ipv6 pref 7 u32';
  const FOREIGN_CLASS = 'class a/br0 1:20';

  it('a no-op plan and a fresh apply read no filter; a plan removing the htb does', () => {
    const session = new KernelSession({ sandbox: sb.prefix });
    try {
      const loaded = loadConfigFromStrings([{ name: 'net.yaml', text: CONFIG }]);
      assert.ok(loaded.ok);
      // Fresh: every change a create.
      const fresh = makePlan(session, loaded.desired, EMPTY_INVENTORY).plan;
      assert.ok(fresh.changes.length > 0 && fresh.changes.every((c) => c.action === 'create'));
      const before = session.requests;
      assert.deepEqual(removedForeignFilters(session, fresh.changes), []);
      assert.equal(session.requests, before, 'a fresh apply makes no tc dump');
    } finally {
      session.close();
    }
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    tc('filter', 'add', 'dev', 'br0', 'parent', '1:', 'protocol', 'ip', 'prio', '5', 'u32', 'match', 'ip', 'dst', '10.0.0.0/8', 'flowid', '1:10');
    tc('filter', 'add', 'dev', 'br0', 'parent', '1:10', 'protocol', 'ipv6', 'prio', '7', 'u32', 'match', 'ip6', 'dst', '::/0', 'flowid', '1:10');
    tc('class', 'add', 'dev', 'br0', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '1mbit');
    const again = new KernelSession({ sandbox: sb.prefix });
    try {
      const loaded = loadConfigFromStrings([{ name: 'net.yaml', text: CONFIG }]);
      assert.ok(loaded.ok);
      const noop = makePlan(again, loaded.desired, sb.inventory()).plan;
      assert.deepEqual(noop.changes, []);
      assert.equal(noop.foreignRemoved, undefined);
      const before = again.requests;
      assert.deepEqual(removedForeignFilters(again, noop.changes), []);
      assert.equal(again.requests, before, 'a no-op plan makes no tc dump');
    } finally {
      again.close();
    }
    const r = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /will be removed/);
  });

  it('refuses an htb options change that would drop them (was: a warning, and the apply removed them), naming each tc filter del', () => {
    edit('default: 10', 'default: 11');
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /qdisc a\/br0 root htb: its options change recreates it \(the kernel's htb has no change operation\)/);
    assert.ok(r.stderr.includes(`not filters it does not own (${U32}, ${U32_CLASS})`), r.stderr);
    const del = (parent: string, pref: number) => `tc -n ${sb.ns('a')} filter del dev br0 parent ${parent} pref ${pref}`;
    assert.ok(r.stderr.includes(`${del('1:', 5)}; ${del('1:10', 7)};`), r.stderr);
    assert.ok(!r.stderr.includes(FOREIGN_CLASS), r.stderr);
    const filters = (parent: string) => sb.exec('a', ['tc', 'filter', 'show', 'dev', 'br0', 'parent', parent]).stdout;
    assert.match(filters('1:'), /pref 5 u32/, 'nothing written');
    assert.match(filters('1:10'), /pref 7 u32/, 'nothing written');
    assert.match(sb.exec('a', ['tc', 'qdisc', 'show', 'dev', 'br0']).stdout, /default 0x10/);
    // Its own advice works; the classes come back, the foreign one too.
    tc('filter', 'del', 'dev', 'br0', 'parent', '1:', 'pref', '5');
    tc('filter', 'del', 'dev', 'br0', 'parent', '1:10', 'pref', '7');
    const ok = sb.run(['apply', '--auto-approve']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(sb.exec('a', ['tc', 'qdisc', 'show', 'dev', 'br0']).stdout, /default 0x11/);
    assert.match(sb.exec('a', ['tc', 'class', 'show', 'dev', 'br0']).stdout, /1:20/);
    edit('default: 11', 'default: 10');
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
  });

  it('names them, and the foreign class, with the htb replaced by another kind or deleted', () => {
    tc('filter', 'add', 'dev', 'br0', 'parent', '1:', 'protocol', 'ip', 'prio', '5', 'u32', 'match', 'ip', 'dst', '10.0.0.0/8', 'flowid', '1:10');
    tc('filter', 'add', 'dev', 'br0', 'parent', '1:10', 'protocol', 'ipv6', 'prio', '7', 'u32', 'match', 'ip6', 'dst', '::/0', 'flowid', '1:10');
    edit(QDISC, `  - { namespace: a, dev: br0, parent: root, handle: "1:", kind: tbf, rate: 10mbit, burst: 32kb, latency: 50ms }\n`);
    edit(`classes:\n  - { namespace: a, dev: br0, classid: "1:10", rate: 10mbit }\n`, '');
    let w = warning();
    for (const x of [FOREIGN_CLASS, U32, U32_CLASS]) assert.ok(w.includes(`${x} (with qdisc a/br0 root tbf)`), w);
    edit(`qdiscs:\n  - { namespace: a, dev: br0, parent: root, handle: "1:", kind: tbf, rate: 10mbit, burst: 32kb, latency: 50ms }\n`, '');
    w = warning();
    assert.match(w, /3 live objects not owned by Voltron will be removed/);
    for (const x of [FOREIGN_CLASS, U32, U32_CLASS]) assert.ok(w.includes(`${x} (with qdisc a/br0 root htb)`), w);
  });

  it('names them with the link, filters on a clsact hook Voltron does not model too', () => {
    tc('qdisc', 'add', 'dev', 'br0', 'clsact');
    tc('filter', 'add', 'dev', 'br0', 'ingress', 'protocol', 'all', 'prio', '3', 'u32', 'match', 'u32', '0', '0', 'flowid', '1:1');
    edit(`links:\n  - { namespace: a, name: br0, type: bridge }\n`, '');
    const r = sb.run(['plan', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const removed = (JSON.parse(r.stdout) as { foreign_removed: string[] }).foreign_removed;
    const w = '(with link a/br0 (bridge))';
    for (const x of [FOREIGN_CLASS, U32, U32_CLASS, 'filter a/br0 ingress protocol all pref 3 u32', 'qdisc a/br0 clsact clsact']) {
      assert.ok(removed.includes(`${x} ${w}`), JSON.stringify(removed));
    }
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
  });
});

describe('an owned htb class a foreign filter sends traffic to (real kernel)', () => {
  const { sb, edit } = editableSandbox('tcu', CONFIG);

  it('refuses its delete at plan time, naming the filter and its tc filter del (the kernel says EBUSY mid-apply)', () => {
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    const tc = (...args: string[]) => assert.equal(sb.exec('a', ['tc', ...args]).code, 0);
    tc('class', 'add', 'dev', 'br0', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '1mbit');
    tc('filter', 'add', 'dev', 'br0', 'parent', '1:', 'protocol', 'ip', 'prio', '5', 'u32', 'match', 'ip', 'dst', '10.0.0.0/8', 'flowid', '1:10');
    // Bound to another class: no obstacle.
    tc('filter', 'add', 'dev', 'br0', 'parent', '1:', 'protocol', 'ip', 'prio', '6', 'u32', 'match', 'ip', 'dst', '10.1.0.0/16', 'flowid', '1:20');
    edit(`classes:\n  - { namespace: a, dev: br0, classid: "1:10", rate: 10mbit }\n`, '');
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /class a\/br0 1:10: deleted, but a filter Voltron does not own sends traffic to it \(filter a\/br0 parent 1: protocol ip pref 5 u32\)/);
    assert.ok(r.stderr.includes(`tc -n ${sb.ns('a')} filter del dev br0 parent 1: pref 5;`), r.stderr);
    assert.doesNotMatch(r.stderr, /pref 6/);
    assert.doesNotMatch(r.stderr, /EBUSY: HTB class in use/);
    // Its own advice works.
    tc('filter', 'del', 'dev', 'br0', 'parent', '1:', 'pref', '5');
    const ok = sb.run(['apply', '--auto-approve']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
  });
});

describe("a qdisc or class put by hand in the place of Voltron's (real kernel)", () => {
  const { sb, edit } = editableSandbox('tcq', CONFIG);
  const qdiscs = () => sb.exec('a', ['tc', 'qdisc', 'show', 'dev', 'br0']).stdout;
  const classes = () => sb.exec('a', ['tc', 'class', 'show', 'dev', 'br0']).stdout;
  const tc = (...args: string[]) => {
    const r = sb.exec('a', ['tc', ...args]);
    assert.equal(r.code, 0, r.stderr);
  };

  it('a class under another parent is not Voltron\'s: neither moved back nor pruned (was: replaced, deleting its subtree)', () => {
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    // The kernel cannot move a class: another parent means Voltron's was deleted and this one made.
    tc('class', 'del', 'dev', 'br0', 'classid', '1:10');
    tc('class', 'add', 'dev', 'br0', 'parent', '1:', 'classid', '1:1', 'htb', 'rate', '50mbit');
    tc('class', 'add', 'dev', 'br0', 'parent', '1:1', 'classid', '1:10', 'htb', 'rate', '5mbit');
    tc('class', 'add', 'dev', 'br0', 'parent', '1:10', 'classid', '1:11', 'htb', 'rate', '1mbit');
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /class a\/br0 1:10: the class Voltron created is gone, and one it did not create now holds its key \(class under 1:1, Voltron's was under 1:\)/);
    assert.match(classes(), /class htb 1:11 parent 1:10/, 'nothing written');
    edit(`classes:\n  - { namespace: a, dev: br0, classid: "1:10", rate: 10mbit }\n`, '');
    const ok = sb.run(['apply', '--auto-approve']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /No changes/);
    assert.match(classes(), /class htb 1:10 parent 1:1 /);
    assert.match(classes(), /class htb 1:11 parent 1:10 /);
    tc('class', 'del', 'dev', 'br0', 'classid', '1:11');
    tc('class', 'del', 'dev', 'br0', 'classid', '1:10');
    tc('class', 'del', 'dev', 'br0', 'classid', '1:1');
  });

  it('a qdisc of another kind or handle is not Voltron\'s: neither replaced back nor pruned (was: replaced, taking what hangs on it)', () => {
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    // The kernel keeps no identity for a qdisc: the kind and handle Voltron recorded give it away.
    assert.equal(sb.exec('a', ['tc', 'qdisc', 'replace', 'dev', 'br0', 'root', 'handle', '5:', 'tbf', 'rate', '1mbit', 'burst', '10k', 'latency', '10ms']).code, 0);
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /qdisc a\/br0 root htb: the qdisc Voltron created is gone, and one it did not create now holds its key \(qdisc tbf 5:, Voltron's was htb 1:\)/);
    assert.match(qdiscs(), /qdisc tbf 5: root/, 'nothing written');
    // Left alone when the config stops declaring it too.
    edit(`qdiscs:\n${QDISC}`, '');
    const ok = sb.run(['apply', '--auto-approve']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /No changes/);
    assert.match(qdiscs(), /qdisc tbf 5: root/);
  });
});
