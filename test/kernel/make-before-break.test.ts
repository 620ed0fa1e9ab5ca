// Real kernel: a route's metric or table and a rule's priority are their identity, so changing one
// deletes the old object and creates a new one. The new one is created first (make before break):
// killed after any step, the apply leaves the old or the new object in place, and traffic through
// them flows; the next run restores the pre-apply state.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox, liveOracle } from '../support/sandbox';

// h reaches g's 10.60.0.1 through a main-table route, and (from 10.50.0.1) g's 10.70.0.1 only
// through rule `from 10.50.0.0/24` and the route of the table it looks up.
const CONFIG = (metric: number, priority: number, table: number) => `
namespaces: [ { name: h }, { name: g } ]
links:
  - { name: v0, namespace: h, type: veth, peer: { name: v0, namespace: g } }
addresses:
  - { address: 10.9.0.1/24, dev: v0, namespace: h }
  - { address: 10.50.0.1/32, dev: lo, namespace: h }
  - { address: 10.9.0.2/24, dev: v0, namespace: g }
  - { address: 10.60.0.1/32, dev: lo, namespace: g }
  - { address: 10.70.0.1/32, dev: lo, namespace: g }
routes:
  - { to: 10.50.0.0/24, via: 10.9.0.1, dev: v0, namespace: g }
  - { to: 10.60.0.0/16, via: 10.9.0.2, dev: v0, namespace: h, metric: ${metric} }
  - { to: 10.70.0.0/16, via: 10.9.0.2, dev: v0, namespace: h, table: ${table} }
rules:
  - { priority: ${priority}, from: 10.50.0.0/24, table: ${table}, namespace: h }
`;

describe('make before break: route metric, route table and rule priority changes', () => {
  const oldDir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
  const newDir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
  fs.writeFileSync(path.join(oldDir, 'net.yaml'), CONFIG(100, 1100, 100));
  fs.writeFileSync(path.join(newDir, 'net.yaml'), CONFIG(200, 1150, 200));
  const sb = new Sandbox('mbb', oldDir);
  after(() => {
    sb.cleanup();
    fs.rmSync(oldDir, { recursive: true, force: true });
    fs.rmSync(newDir, { recursive: true, force: true });
  });

  /** What serves each flow now: the metrics of 10.60.0.0/16, the tables of 10.70.0.0/16, the rules. */
  const serving = () => ({
    metrics: (sb.ipj('h', ['route', 'show', '10.60.0.0/16']) as { metric?: number }[]).map((r) => r.metric ?? 0).sort(),
    tables: (sb.ipj('h', ['route', 'show', 'table', 'all', '10.70.0.0/16']) as { table?: string }[]).map((r) => r.table ?? 'main').sort(),
    rules: (sb.ipj('h', ['-4', 'rule', 'show']) as { priority: number; src?: string; table?: string }[])
      .filter((r) => r.src === '10.50.0.0')
      .map((r) => `${r.priority}:${r.table}`)
      .sort(),
  });
  const flows = () => ({
    main: sb.pingUntil('h', ['10.60.0.1'], 3).code,
    ruled: sb.pingUntil('h', ['-I', '10.50.0.1', '10.70.0.1'], 3).code,
  });

  it('the plan creates each new object before it deletes the old one', () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(flows(), { main: 0, ruled: 0 });
    const p = sb.run(['plan', '-o', 'json'], { config: newDir });
    assert.equal(p.code, 0, p.stderr);
    const steps = (JSON.parse(p.stdout).changes as { action: string; label: string }[]).map((c) => `${c.action} ${c.label}`);
    assert.deepEqual(steps, [
      'create route h 10.70.0.0/16 table 200',
      'create route h 10.60.0.0/16 metric 200',
      'create rule h ipv4 priority 1150',
      'delete rule h ipv4 priority 1100',
      'delete route h 10.70.0.0/16 table 100',
      'delete route h 10.60.0.0/16 metric 100',
    ]);
  });

  it('killed after any step, the old or the new objects serve the traffic; the next run restores', () => {
    const pre = liveOracle(sb);
    for (let k = 1; k <= 6; k++) {
      const a = sb.run(['apply', '--auto-approve'], { config: newDir, env: { VOLTRON_FAULT: `step=${k},kill=1` } });
      assert.equal(a.code, -1, `k=${k}: apply should have died by SIGKILL; got ${a.code}\n${a.stderr}`);
      const s = serving();
      assert.ok(s.metrics.length > 0 && s.tables.length > 0 && s.rules.length > 0, `k=${k}: nothing serves a flow: ${JSON.stringify(s)}`);
      assert.deepEqual(flows(), { main: 0, ruled: 0 }, `k=${k}: ${JSON.stringify(s)}`);
      const r = sb.run(['recover']);
      assert.equal(r.code, 0, `k=${k}: ${r.stdout}${r.stderr}`);
      assert.equal(liveOracle(sb), pre, `k=${k}: live state differs from the pre-apply state`);
    }
  });

  it('a new route the kernel refuses leaves the old one in place: nothing was deleted', () => {
    // Step 2 (the metric-200 route) fails: the rollback removes the table-200 route and no more.
    const a = sb.run(['apply', '--auto-approve'], { config: newDir, env: { VOLTRON_FAULT: 'step=2,errno=101' } });
    assert.equal(a.code, 1, a.stdout + a.stderr);
    assert.match(a.stdout + a.stderr, /Rollback complete/);
    const undone = (a.stdout + a.stderr).split('\n').filter((l) => l.includes('rollback:'));
    assert.deepEqual(undone, ['  rollback: delete route h 10.70.0.0/16 table 200'], a.stdout + a.stderr);
    assert.deepEqual(serving(), { metrics: [100], tables: ['100'], rules: ['1100:100'] });
  });

  it('the apply converges, and the way back is made before it breaks too', () => {
    const a = sb.run(['apply', '--auto-approve'], { config: newDir });
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(serving(), { metrics: [200], tables: ['200'], rules: ['1150:200'] });
    assert.deepEqual(flows(), { main: 0, ruled: 0 });
    assert.equal(sb.run(['plan', '--detailed-exitcode'], { config: newDir }).code, 0);
    const p = sb.run(['plan', '-o', 'json']);
    const actions = (JSON.parse(p.stdout).changes as { action: string }[]).map((c) => c.action);
    assert.deepEqual(actions, ['create', 'create', 'create', 'delete', 'delete', 'delete']);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});
