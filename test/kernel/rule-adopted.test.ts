// Real kernel: a declared rule that was there before Voltron (adopted, `proto static`) is edited
// as Voltron's own are: the new rule added first, keeping its protocol, the old one deleted by
// its full spec; it stays adopted (released, not deleted, when it leaves the config). Failing
// between the two writes rolls back, or (--no-rollback) leaves a leftover the next apply
// deletes. Behind another foreign rule at that priority, the declared rule is the one equal to
// it, else the one with its selectors. A selector edit is refused: the rule at that priority may
// as well be someone else's, which Voltron never deletes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ConfigDirs, Sandbox, rulesAt } from '../support/sandbox';

const CONFIG = (rule: string) => `
namespaces: [ { name: h } ]
${rule ? `rules:\n  - { priority: 1100, from: 10.50.0.0/24, ${rule}, namespace: h }` : ''}
`;

describe('an adopted rule edited', () => {
  const dirs = new ConfigDirs();
  const cfg = (rule: string): string => dirs.make(CONFIG(rule));
  const T100 = cfg('table: 100');
  const T200 = cfg('table: 200');
  const BLACKHOLE = cfg('action: blackhole');
  const NONE = cfg('');
  const MOVED = dirs.make(CONFIG('table: 100').replace('from: 10.50.0.0/24', 'from: 10.70.0.0/24'));
  const sb = new Sandbox('ra', T100);
  before(() => {
    execFileSync('ip', ['netns', 'add', sb.ns('h')]);
    sb.ip('h', ['rule', 'add', 'priority', '1100', 'from', '10.50.0.0/24', 'table', '100', 'proto', 'static']);
  });
  after(() => {
    sb.run(['destroy', '--auto-approve']);
    sb.cleanup();
    dirs.remove();
  });

  const rules = (): string[] => rulesAt(sb, 'h', 1100);
  const apply = (config: string, args: string[] = [], env: Record<string, string> = {}) => sb.run(['apply', '--auto-approve', ...args], { config, env });
  const ownsRule = () => Object.keys(sb.inventory().owned).filter((k) => k.startsWith('rule:'));

  it('declared as it is: adopted, nothing to do', () => {
    const a = apply(T100);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.doesNotMatch(a.stdout, /rule h/);
    assert.deepEqual(rules(), ['100:static']);
  });

  it('its table changed: replaced made before broken, keeping proto static, still adopted', () => {
    const p = sb.run(['plan', '-o', 'json'], { config: T200 });
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const changes = JSON.parse(p.stdout).changes as { action: string; label: string; reason: string; disruptive: boolean }[];
    assert.deepEqual(
      changes.map((c) => [c.action, c.label, c.disruptive]),
      [['replace', 'rule h ipv4 priority 1100', false]],
    );
    assert.match(changes[0]!.reason, /new rule is added before the old one is deleted.*keeps the protocol of the old one \(static\)/);
    const a = apply(T200);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(rules(), ['200:static']);
    assert.deepEqual(ownsRule(), []);
    assert.equal(sb.run(['plan', '--detailed-exitcode'], { config: T200 }).code, 0, 'in sync');
  });

  it('failing between the two writes rolls back to exactly the adopted rule', () => {
    const f = apply(BLACKHOLE, [], { VOLTRON_FAULT: 'step=1,half=1,errno=5' });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.match(f.stderr, /Rollback complete/);
    assert.deepEqual(rules(), ['200:static']);
  });

  it('with --no-rollback, the next apply deletes the old rule, by its protocol', () => {
    const f = apply(BLACKHOLE, ['--no-rollback'], { VOLTRON_FAULT: 'step=1,half=1,errno=5' });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.deepEqual(rules(), ['200:static', 'blackhole:static']);
    const a = apply(BLACKHOLE);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /left by a replace interrupted/);
    assert.deepEqual(rules(), ['blackhole:static']);
    assert.deepEqual(ownsRule(), []);
  });

  it('a selector changed: refused (someone else\'s rule at that priority is never deleted), naming its delete', () => {
    const p = sb.run(['plan'], { config: MOVED });
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /a rule Voltron did not create holds this priority with other selectors \(priority 1100 from 10\.50\.0\.0\/24 blackhole proto 4\)/);
    assert.match(p.stderr, /ip -n \S+ -4 rule del priority 1100 from 10\.50\.0\.0\/24 blackhole proto 4/);
  });

  it('left out of the config: released, not deleted', () => {
    const a = apply(NONE);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(rules(), ['blackhole:static']);
  });

});

describe('an adopted rule behind another foreign rule at its priority', () => {
  const dirs = new ConfigDirs();
  const cfg = (rule: string): string => dirs.make(CONFIG(rule));
  const T100 = cfg('table: 100');
  const T200 = cfg('table: 200');
  const MOVED = dirs.make(CONFIG('table: 200').replace('from: 10.50.0.0/24', 'from: 10.70.0.0/24'));
  const sb = new Sandbox('rb', T100);
  before(() => {
    execFileSync('ip', ['netns', 'add', sb.ns('h')]);
    // Someone else's rule first: the kernel lists it, and the read keys it, before the declared one.
    sb.ip('h', ['rule', 'add', 'priority', '1100', 'from', '10.60.0.0/24', 'table', '7', 'proto', 'boot']);
    sb.ip('h', ['rule', 'add', 'priority', '1100', 'from', '10.50.0.0/24', 'table', '100', 'proto', 'static']);
  });
  after(() => {
    sb.run(['destroy', '--auto-approve']);
    sb.cleanup();
    dirs.remove();
  });
  const rules = (): string[] => rulesAt(sb, 'h', 1100);
  const apply = (config: string, args: string[] = [], env: Record<string, string> = {}) => sb.run(['apply', '--auto-approve', ...args], { config, env });

  it('declared as it is: in sync (the declared rule is found, not the first one)', () => {
    const a = apply(T100);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.doesNotMatch(a.stdout, /rule h/);
    assert.deepEqual(rules(), ['7:boot', '100:static']);
  });

  it('its table changed: the rule with its selectors is edited, the other stays', () => {
    const a = apply(T200);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(rules(), ['7:boot', '200:static']);
  });

  for (const fault of ['errno=5', 'kill=1']) {
    it(`${fault === 'kill=1' ? 'killed' : 'failing'} between the two writes: back to exactly the adopted rule`, () => {
      const f = apply(T100, [], { VOLTRON_FAULT: `step=1,half=1,${fault}` });
      assert.notEqual(f.code, 0);
      if (fault === 'kill=1') {
        const r = sb.run(['recover']);
        assert.equal(r.code, 0, r.stdout + r.stderr);
      } else assert.match(f.stderr, /Rollback complete/);
      assert.deepEqual(rules(), ['7:boot', '200:static']);
    });
  }

  it('with --no-rollback, the next apply deletes the old rule only', () => {
    const f = apply(T100, ['--no-rollback'], { VOLTRON_FAULT: 'step=1,half=1,errno=5' });
    assert.equal(f.code, 1, f.stdout + f.stderr);
    assert.deepEqual(rules(), ['7:boot', '200:static', '100:static']);
    const a = apply(T100);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(rules(), ['7:boot', '100:static']);
    assert.equal(sb.run(['plan', '--detailed-exitcode'], { config: T100 }).code, 0, 'in sync');
  });

  it('a selector changed: which rule is meant is unknown, refused naming the rules to delete', () => {
    const p = sb.run(['plan'], { config: MOVED });
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /2 rules Voltron did not create hold this priority, none with the declared selectors/);
    assert.match(p.stderr, /rule del priority 1100 from 10\.50\.0\.0\/24 table 100 proto 4/);
    assert.match(p.stderr, /rule del priority 1100 from 10\.60\.0\.0\/24 table 7 proto 3/);
    assert.deepEqual(rules(), ['7:boot', '100:static']);
  });

  it('two rules with the declared selectors, neither the declared one: refused', () => {
    sb.ip('h', ['rule', 'add', 'priority', '1100', 'from', '10.50.0.0/24', 'table', '9', 'proto', 'boot']);
    const p = sb.run(['plan'], { config: T200 });
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /3 rules Voltron did not create hold this priority, more than one with the declared selectors/);
    assert.deepEqual(rules(), ['7:boot', '100:static', '9:boot']);
  });
});
