// Real kernel: a rule replace cut between adding the new rule and deleting the old one, and kept
// so (`apply --no-rollback`, `recover --abandon`), leaves both at one priority, both Voltron's.
// The inventory records the old one as a leftover: the next plan deletes exactly it (by its full
// spec), the apply converges, and destroy removes both; a foreign rule there stays.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ConfigDirs, Sandbox, rulesAt } from '../support/sandbox';

// The namespace is made by the test (adopted): destroy leaves it, so what it removes shows.
const CONFIG = (rule: string) => `
namespaces: [ { name: h } ]
rules:
  - { priority: 1100, from: 10.50.0.0/24, ${rule}, namespace: h }
`;

describe('rule replace left half done: the next apply deletes the leftover', () => {
  const dirs = new ConfigDirs();
  const cfg = (rule: string): string => dirs.make(CONFIG(rule));
  const T100 = cfg('table: 100');
  const T200 = cfg('table: 200');
  const sb = new Sandbox('rl', T100);
  before(() => {
    execFileSync('ip', ['netns', 'add', sb.ns('h')]);
  });
  after(() => {
    sb.run(['destroy', '--auto-approve']);
    sb.cleanup();
    dirs.remove();
  });

  const rules = (): string[] => rulesAt(sb, 'h', 1100);
  const apply = (config: string, args: string[] = [], env: Record<string, string> = {}) => sb.run(['apply', '--auto-approve', ...args], { config, env });
  const planned = (config: string) => {
    const p = sb.run(['plan', '-o', 'json'], { config });
    assert.equal(p.code, 0, p.stderr);
    return JSON.parse(p.stdout).changes as { action: string; label: string; reason: string }[];
  };

  it('apply --no-rollback failing between the two writes: plan shows only the leftover delete, apply converges', () => {
    const a = apply(T100);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    // Someone else's rule at that priority (other selectors): never touched.
    sb.ip('h', ['rule', 'add', 'priority', '1100', 'from', '10.60.0.0/24', 'table', '7', 'proto', 'boot']);
    const f = apply(T200, ['--no-rollback'], { VOLTRON_FAULT: 'step=1,half=1,errno=5' });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.match(f.stderr, /the new rule was added and the old one is still there/);
    assert.deepEqual(rules(), ['100:194', '7:boot', '200:194']);
    assert.deepEqual(Object.keys(sb.inventory().owned).filter((k) => k.startsWith('rule:')).sort(), ['rule:h/ipv4/p1100', 'rule:h/ipv4/p1100#leftover']);
    const changes = planned(T200);
    assert.deepEqual(
      changes.map((c) => [c.action, c.label]),
      [['delete', 'rule h ipv4 priority 1100']],
    );
    assert.match(changes[0]!.reason, /left by a replace interrupted between adding the new rule and deleting this one/);
    const shown = sb.run(['show', '-n', 'h'], { config: T200 });
    assert.match(shown.stdout, /table: 100\n[^]*left by a replace interrupted|left by a replace interrupted[^]*table: 100/);
    const b = apply(T200);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.deepEqual(rules(), ['7:boot', '200:194']);
    assert.equal(sb.run(['plan', '--detailed-exitcode'], { config: T200 }).code, 0, 'in sync');
    assert.deepEqual(Object.keys(sb.inventory().owned).filter((k) => k.startsWith('rule:')), ['rule:h/ipv4/p1100']);
  });

  it('the config gone back to the old rule: the new one is the leftover', () => {
    const f = apply(T100, ['--no-rollback'], { VOLTRON_FAULT: 'step=1,half=1,errno=5' });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.deepEqual(rules(), ['7:boot', '200:194', '100:194']);
    const changes = planned(T200);
    assert.deepEqual(
      changes.map((c) => [c.action, c.label]),
      [['delete', 'rule h ipv4 priority 1100']],
    );
    const b = apply(T200);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.deepEqual(rules(), ['7:boot', '200:194']);
  });

  it('killed between the two writes and abandoned: the plan deletes the leftover too', () => {
    const k = apply(T100, [], { VOLTRON_FAULT: 'step=1,half=1,kill=1' });
    assert.equal(k.code, -1, `apply should have died by SIGKILL; got ${k.code}\n${k.stderr}`);
    const r = sb.run(['recover', '--abandon']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(rules(), ['7:boot', '200:194', '100:194']);
    assert.deepEqual(
      planned(T100).map((c) => [c.action, c.label]),
      [['delete', 'rule h ipv4 priority 1100']],
    );
    const b = apply(T100);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.deepEqual(rules(), ['7:boot', '100:194']);
    assert.equal(sb.run(['plan', '--detailed-exitcode'], { config: T100 }).code, 0, 'in sync');
  });

  it('destroy after such a failure removes both rules, and nothing else', () => {
    const f = apply(T200, ['--no-rollback'], { VOLTRON_FAULT: 'step=1,half=1,errno=5' });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.deepEqual(rules(), ['7:boot', '100:194', '200:194']);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(rules(), ['7:boot']);
    assert.deepEqual(sb.namespaces(), [sb.ns('h')], 'the adopted namespace stays');
  });
});
