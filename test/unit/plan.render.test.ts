import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resourceKey } from '../../src/model/keys';
import type { LinkRes, QdiscRes, Resource, TcClassRes } from '../../src/model/types';
import { computePlan, planToJson, renderMarkdown, renderText } from '../../src/plan';
import type { Inventory, Plan } from '../../src/plan/types';

const map = (...rs: Resource[]) => new Map(rs.map((r) => [resourceKey(r), r] as const));
const br = (name: string, extra: Partial<LinkRes> = {}): LinkRes => ({ kind: 'link', namespace: '', name, type: 'bridge', ...extra });
const live = (l: LinkRes): LinkRes => ({ mtu: 1500, mac: '02:00:00:00:00:01', state: 'up', ...l });

/** One change of each action: create br-new, update br0 (mtu), replace vx0 (vni), delete br-old. */
function samplePlan(): Plan {
  const vx = (vni: number): LinkRes => ({ kind: 'link', namespace: '', name: 'vx0', type: 'vxlan', vxlan: { vni } });
  const old = live(br('br-old'));
  const eth0 = live({ ...br('eth0'), type: 'other' as LinkRes['type'] });
  const inventory: Inventory = { version: 1, owned: { [resourceKey(old)]: old }, original: {} };
  return computePlan({
    desired: map(br('br-new', { state: 'up', alias: 'uplink "A"' }), br('br0', { mtu: 9000 }), vx(200)),
    current: map(live(br('br0')), live(vx(100)), old, eth0),
    inventory,
  });
}

test('renderText: Terraform-like, plain without colour', () => {
  const text = renderText(samplePlan(), { color: false });
  assert.doesNotMatch(text, /\x1b\[/);
  const lines = text.split('\n');
  assert.equal(lines[0], 'Voltron will perform the following actions, in this order:');
  assert.ok(lines.includes('  - link (root)/br-old (bridge)  [disruptive]'));
  assert.ok(lines.includes('  + link (root)/br-new (bridge)'));
  assert.ok(lines.includes('  ~ link (root)/br0 (bridge)'));
  assert.ok(lines.includes('-/+ link (root)/vx0 (vxlan)  [disruptive]'));
  assert.ok(lines.includes('      ~ mtu: 1500 → 9000'));
  assert.ok(lines.includes('      + alias: "uplink \\"A\\""'), 'strings with spaces are quoted');
  assert.ok(lines.includes('      ~ vxlan.vni: 100 → 200  (forces replacement)'));
  assert.ok(lines.includes('      # (vxlan.vni is immutable (100 → 200))'));
  assert.ok(lines.includes('Plan: 1 to add, 1 to change, 1 to replace, 1 to destroy.'));
  assert.ok(lines.includes('1 live object not owned by Voltron left untouched.'));
  // Deletes come first.
  assert.ok(text.indexOf('- link (root)/br-old') < text.indexOf('+ link (root)/br-new'));
});

test('renderText: ANSI colours only when asked', () => {
  const text = renderText(samplePlan(), { color: true });
  assert.match(text, /\x1b\[32m\+\x1b\[0m link \(root\)\/br-new/);
  assert.match(text, /\x1b\[33m~\x1b\[0m link \(root\)\/br0/);
  assert.match(text, /\x1b\[31m-\x1b\[0m\/\x1b\[32m\+\x1b\[0m link \(root\)\/vx0/);
  assert.match(text, /\x1b\[31m-\x1b\[0m link \(root\)\/br-old/);
  assert.match(text, /\[disruptive\]/);
  // Stripped of escapes, it is the plain rendering.
  assert.equal(text.replace(/\x1b\[[0-9;]*m/g, ''), renderText(samplePlan(), { color: false }));
});

test('renderText: an empty plan says so', () => {
  const p: Plan = { changes: [], foreignCount: 0 };
  assert.equal(renderText(p, { color: false }), 'No changes. The kernel matches the desired state.\n');
  assert.equal(renderText(p, { color: true }), 'No changes. The kernel matches the desired state.\n');
});

test('renderMarkdown: summary table and a diff block', () => {
  const md = renderMarkdown(samplePlan());
  assert.match(md, /^### Voltron plan\n/);
  assert.match(md, /\| Create \| 1 \|\n\| Update \| 1 \|\n\| Replace \| 1 \|\n\| Delete \| 1 \|\n\| \*\*Disruptive\*\* \| \*\*2\*\* \|/);
  const block = /```diff\n([\s\S]*?)\n```/.exec(md);
  assert.ok(block, 'fenced diff block');
  const lines = block[1]!.split('\n');
  assert.ok(lines.every((l) => /^(\+|-|!|-\/\+) /.test(l)), lines.join('\n'));
  assert.ok(lines.includes('- link (root)/br-old (bridge)  [disruptive]  # no longer declared (owned since a previous apply)'));
  assert.ok(lines.includes('!     mtu: 1500 → 9000'));
  assert.ok(lines.includes('+     state: up'));
  assert.equal(renderMarkdown({ changes: [], foreignCount: 0 }), '### Voltron plan\n\nNo changes. The kernel matches the desired state.\n');
});

test('renderMarkdown: the host of a config with overlays is in the heading (one comment per host)', () => {
  assert.match(renderMarkdown(samplePlan(), { host: 'hosta' }), /^### Voltron plan for host `hosta`\n\n\| Action/);
  assert.equal(renderMarkdown({ changes: [], foreignCount: 0 }, { host: 'h`1' }), '### Voltron plan for host ``h`1``\n\nNo changes. The kernel matches the desired state.\n');
});

test('planToJson: stable, serialisable, format_version 1', () => {
  const p = samplePlan();
  const j = planToJson(p) as {
    format_version: number;
    changes: { action: string; key: string; fields: { field: string; before: unknown; after: unknown }[]; dependsOn: string[] }[];
    summary: Record<string, number>;
  };
  assert.equal(j.format_version, 1);
  assert.deepEqual(j.summary, { create: 1, update: 1, replace: 1, delete: 1 });
  assert.deepEqual(Object.keys(j.changes[0]!), ['action', 'key', 'kind', 'label', 'reason', 'disruptive', 'fields', 'dependsOn']);
  const create = j.changes.find((c) => c.action === 'create')!;
  assert.ok(create.fields.every((f) => f.before === null), 'undefined becomes null');
  // What the text marks `(forces replacement)`, the JSON says too (as Terraform's replace_paths).
  const replace = j.changes.find((c) => c.action === 'replace')!;
  assert.deepEqual(replace.fields, [{ field: 'vxlan.vni', before: 100, after: 200, forcesReplacement: true }]);
  assert.ok(j.changes.filter((c) => c.action !== 'replace').every((c) => c.fields.every((f) => !('forcesReplacement' in f))), 'only on what forces it');
  const round = JSON.parse(JSON.stringify(j));
  assert.deepEqual(round, j);
  assert.equal(JSON.stringify(planToJson(samplePlan())), JSON.stringify(j), 'same input, same bytes');
  // The JSON does not alias the plan's arrays.
  j.changes[0]!.dependsOn.push('x');
  assert.ok(!p.changes[0]!.dependsOn.includes('x'));
});

test('renderMarkdown: foreign names in warnings are code spans (kernel names may hold markup)', () => {
  const plan: Plan = { ...samplePlan(), foreignRemoved: ['link (root)/x*y*_z| (veth)', 'address (root)/`a`` 10.0.0.1/24'] };
  const md = renderMarkdown(plan);
  assert.ok(md.includes('- `link (root)/x*y*_z| (veth)`'), md);
  assert.ok(md.includes('- ```address (root)/`a`` 10.0.0.1/24```'), md);
});

test('kernel names with control characters are escaped in labels: no terminal sequence reaches the text plan', () => {
  const evil: LinkRes = { kind: 'link', namespace: '', name: 'x\x1b[2Jy', type: 'veth', veth: { peer: { name: 'p\ru', namespace: '' }, primary: true } };
  const owned: LinkRes = { kind: 'link', namespace: 'n\x07s', name: 'br0', type: 'bridge', state: 'up' };
  const inv: Inventory = { version: 1, owned: { [resourceKey(evil)]: evil, [resourceKey(owned)]: owned }, original: {} };
  const plan = computePlan({ desired: new Map(), current: new Map<string, Resource>([[resourceKey(evil), evil], [resourceKey(owned), owned]]), inventory: inv });
  const text = renderText(plan, { color: true });
  assert.doesNotMatch(text.replace(/\x1b\[[0-9;]*m/g, ''), /[\x00-\x09\x0b-\x1f\x7f]/, 'only our own colour codes and newlines');
  assert.match(text, /link \(root\)\/x\\x1b\[2Jy \(veth\)/);
  assert.match(text, /link n\\x07s\/br0 \(bridge\)/);
});

test('renderText: a long collateral list shows 20 objects and counts the rest', () => {
  const removed = (n: number) => Array.from({ length: n }, (_, i) => `link (root)/f${i} (veth) (with link (root)/br-old (bridge))`);
  const at = (n: number) => renderText({ ...samplePlan(), foreignRemoved: removed(n) }, { color: false }).split('\n');
  const shown = (lines: string[]) => lines.filter((l) => /^ {2}- link \(root\)\/f\d+ /.test(l)).length;
  assert.equal(shown(at(20)), 20);
  assert.ok(!at(20).some((l) => l.includes('more')), 'all 20 shown: nothing more');
  assert.equal(shown(at(21)), 20);
  assert.ok(at(21).includes('  … and 1 more'));
  assert.ok(at(21).includes('Warning: 21 live objects not owned by Voltron will be removed by the kernel with the changes above:'));
});

test('renderMarkdown: a plan too long for a GitHub comment (65 536 characters) is cut between changes and says what it left out', () => {
  const n = 5000;
  const desired = map(...Array.from({ length: n }, (_, i) => br(`br${i}`, { state: 'up', mtu: 1500 })));
  const old = live(br('br-old'));
  const inventory: Inventory = { version: 1, owned: { [resourceKey(old)]: old }, original: {} };
  const plan = computePlan({ desired, current: map(old), inventory });
  const md = renderMarkdown(plan);
  assert.ok(md.length <= 65536, `${md.length} characters`);
  assert.equal((md.match(/^```/gm) ?? []).length, 2, 'the diff block is closed');
  const shown = (md.match(/^\+ link \(root\)\/br\d+ /gm) ?? []).length;
  assert.ok(shown > 100 && shown < n, `${shown} creates shown`);
  assert.ok(md.includes(`_${n - shown} more changes not shown (${n - shown} to create): a GitHub comment holds at most 65 536 characters`), md.slice(-400));
  assert.ok(md.includes(`| Create | ${n} |`), 'the summary counts every change');
  assert.ok(md.indexOf('- link (root)/br-old (bridge)') < md.indexOf('+ link (root)/br0 '), 'deletes still come first');
  // A plan that fits is not cut: every change and no note.
  const small = renderMarkdown(samplePlan());
  assert.doesNotMatch(small, /not shown/);
});

test('renderMarkdown: a plan that fits whole is shown whole, also within the room a cut would keep for its note', () => {
  const plan = (n: number) => computePlan({ desired: map(...Array.from({ length: n }, (_, i) => br(`br${i}`, { state: 'up' }))), current: map(), inventory: { version: 1, owned: {}, original: {} } });
  const cut = (n: number) => /not shown/.test(renderMarkdown(plan(n)));
  // The largest plan that is not cut; the next one is.
  let lo = 1;
  let hi = 2000;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (cut(mid)) hi = mid;
    else lo = mid;
  }
  const md = renderMarkdown(plan(lo));
  assert.equal((md.match(/^\+ link \(root\)\/br\d+ /gm) ?? []).length, lo, 'every change shown');
  assert.ok(md.length <= 65536, `${md.length} characters`);
  // Less room left than one more change takes: nothing was kept back for a note it does not need.
  const perChange = md.length - renderMarkdown(plan(lo - 1)).length;
  assert.ok(65536 - md.length < perChange, `${65536 - md.length} characters left, a change takes ${perChange}`);
  assert.ok(cut(lo + 1));
});

test('renderText and renderMarkdown: tc rates, sizes, times and the htb default in the config\'s units (JSON keeps the numbers)', () => {
  // A reviewer reading `rate: 500000000 → 750000000` cannot tell the config's `4gbit → 6gbit`
  // (bytes/s, not bits), nor `default: 16` the config's class `10` (hex, as tc writes it).
  const cls = (rate: number, ceil?: number): TcClassRes => ({ kind: 'tclass', namespace: '', dev: 'up0', classid: '1:20', parent: '1:1', rate, ...(ceil ? { ceil } : {}) });
  const htb = (def: number): QdiscRes => ({ kind: 'qdisc', namespace: '', dev: 'up0', parent: 'root', handle: '1:', qdisc: 'htb', options: { default: def } });
  const tbf = (dev: string, o: Record<string, number>): QdiscRes => ({ kind: 'qdisc', namespace: '', dev, parent: 'root', handle: '2:', qdisc: 'tbf', options: o });
  const fq = (limit: number): QdiscRes => ({ kind: 'qdisc', namespace: '', dev: 'up2', parent: 'root', qdisc: 'fq_codel', options: { limit, target: 5000 } });
  const c0 = [cls(500_000_000, 1_250_000_000), htb(0x10), tbf('up1', { rate: 1_250_000, burst: 32768, latency: 50_000 }), tbf('up3', { rate: 1_250_000, burst: 1500, limit: 3000 }), fq(1000)];
  const d0 = [cls(750_000_000, 1_250_000_000), htb(0x20), tbf('up1', { rate: 2_500_000, burst: 65536, latency: 100_000 }), tbf('up3', { rate: 1_250_000, burst: 1500, limit: 4096 }), fq(2000)];
  const plan = computePlan({ desired: map(...d0), current: map(...c0), inventory: { version: 1, owned: {}, original: {} } });
  const text = renderText(plan, { color: false });
  assert.match(text, /~ rate: 4gbit → 6gbit\n/);
  assert.match(text, /~ options\.default: 10 → 20\n/);
  assert.match(text, /~ options\.burst: 32kb → 64kb\n/);
  assert.match(text, /~ options\.latency: 50ms → 100ms\n/);
  assert.match(text, /~ options\.rate: 10mbit → 20mbit\n/);
  assert.match(text, /~ options\.limit: 3000 → 4kb\n/, 'a tbf limit is bytes');
  assert.match(text, /~ options\.limit: 1000 → 2000\n/, 'an fq_codel limit counts packets');
  assert.match(renderMarkdown(plan), /! {5}rate: 4gbit → 6gbit\n/);
  const json = JSON.stringify(planToJson(plan));
  assert.match(json, /"field":"rate","before":500000000,"after":750000000/);
});

test('a prune shows what goes, as last applied (text and markdown); read-only fields and restores do not', () => {
  const rule = (extra: Record<string, unknown> = {}): Resource =>
    ({ kind: 'rule', namespace: '', family: 4, priority: 1100, action: 'lookup', table: 100, from: '10.50.0.0/24', ...extra }) as Resource;
  const sysctl: Resource = { kind: 'sysctl', namespace: '', key: 'net.ipv4.ip_forward', value: '1' };
  // The inventory has the rule as declared; the kernel's has its protocol too. No record: as read.
  const route = { kind: 'route', namespace: '', family: 4, to: '10.9.0.0/16', table: 254, metric: 0, type: 'unicast', via: '10.0.0.1', protocol: 194 } as unknown as Resource;
  const plan = computePlan({
    desired: map(),
    current: map(rule({ protocol: 194 }), sysctl, route),
    inventory: { version: 1, owned: { [resourceKey(rule())]: rule(), [resourceKey(sysctl)]: sysctl, [resourceKey(route)]: route }, original: { [resourceKey(sysctl)]: '0' } },
  });
  const text = renderText(plan, { color: false });
  const block = (label: RegExp) => text.split('\n\n').find((b) => label.test(b)) ?? '';
  assert.match(block(/rule \(root\) ipv4 priority 1100/), /\n {6}- action: lookup\n {6}- from: 10\.50\.0\.0\/24\n {6}- table: 100$/);
  assert.match(block(/route \(root\) 10\.9\.0\.0\/16/), /- via: 10\.0\.0\.1/);
  assert.doesNotMatch(text, /protocol/);
  assert.doesNotMatch(block(/sysctl/), /- value/, 'a restore says its value in the reason');
  const md = renderMarkdown(plan);
  assert.match(md, /\n- {5}from: 10\.50\.0\.0\/24\n/);
  assert.equal(JSON.stringify(planToJson(plan)).includes('10.50.0.0/24'), false, 'JSON keeps fields for changes only');
});
