// Real kernel: a rule whose table or action changes at its priority is replaced by adding the new
// rule before deleting the old one (both live meanwhile, the old one matched first), so packets
// never fall through to later rules. Killed or failing between the two writes, the apply rolls
// back to exactly the old rule; a foreign rule at that priority is never deleted.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox, rulesAt } from '../support/sandbox';

// From 10.50.0.1, h reaches g's 10.70.0.1 only through the rule at 1100 and the route of the
// table it looks up (100 or 200, both out v0); h's main table has no route there: a packet that
// matches no rule is refused at once (ENETUNREACH).
const CONFIG = (rule: string) => `
namespaces: [ { name: h }, { name: g } ]
links:
  - { name: v0, namespace: h, type: veth, peer: { name: v0, namespace: g } }
addresses:
  - { address: 10.9.0.1/24, dev: v0, namespace: h }
  - { address: 10.50.0.1/32, dev: lo, namespace: h }
  - { address: 10.9.0.2/24, dev: v0, namespace: g }
  - { address: 10.70.0.1/32, dev: lo, namespace: g }
routes:
  - { to: 10.50.0.0/24, via: 10.9.0.1, dev: v0, namespace: g }
  - { to: 10.70.0.0/16, via: 10.9.0.2, dev: v0, namespace: h, table: 100 }
  - { to: 10.70.0.0/16, via: 10.9.0.2, dev: v0, namespace: h, table: 200 }
rules:
  - { priority: 1100, from: 10.50.0.0/24, ${rule}, namespace: h }
`;

// Sends UDP from 10.50.0.1 to 10.70.0.1 as fast as it can until the stop file appears: every
// send is a rule lookup; one that finds no rule fails with ENETUNREACH.
const SENDER = `
import errno, json, os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('10.50.0.1', 0))
sent = unreach = other = 0
open(sys.argv[2], 'w').close()
while not os.path.exists(sys.argv[1]):
    for _ in range(200):
        try:
            s.sendto(b'x', ('10.70.0.1', 9)); sent += 1
        except OSError as e:
            if e.errno == errno.ENETUNREACH: unreach += 1
            else: other += 1
print(json.dumps({'sent': sent, 'unreach': unreach, 'other': other}))
`;

describe('rule replaced at its priority: made before broken', () => {
  const dirs = new Map<string, string>();
  const cfg = (rule: string): string => {
    let d = dirs.get(rule);
    if (d === undefined) {
      d = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
      fs.writeFileSync(path.join(d, 'net.yaml'), CONFIG(rule));
      dirs.set(rule, d);
    }
    return d;
  };
  const T100 = cfg('table: 100');
  const T200 = cfg('table: 200');
  const BLACKHOLE = cfg('action: blackhole');
  const sb = new Sandbox('rh', T100);
  after(() => {
    // destroy before the state dir goes (cleanup deletes what is left).
    sb.run(['destroy', '--auto-approve']);
    sb.cleanup();
    for (const d of dirs.values()) fs.rmSync(d, { recursive: true, force: true });
  });

  const rules = (): string[] => rulesAt(sb, 'h', 1100);
  const apply = (config: string, env: Record<string, string> = {}) => sb.run(['apply', '--auto-approve'], { config, env });

  it('the plan replaces the rule, adding the new one first, not disruptive', () => {
    const a = apply(T100);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(rules(), ['100:194']);
    const p = sb.run(['plan', '-o', 'json'], { config: T200 });
    assert.equal(p.code, 0, p.stderr);
    const changes = JSON.parse(p.stdout).changes as { action: string; label: string; reason: string; disruptive: boolean }[];
    assert.deepEqual(
      changes.map((c) => [c.action, c.label, c.disruptive]),
      [['replace', 'rule h ipv4 priority 1100', false]],
    );
    assert.match(changes[0]!.reason, /new rule is added before the old one is deleted/);
  });

  it('no packet finds no rule while the table changes back and forth', async () => {
    const stop = path.join(sb.stateDir, 'stop-sender');
    const ready = path.join(sb.stateDir, 'sender-ready');
    const child = spawn('ip', ['netns', 'exec', sb.ns('h'), 'timeout', '60', 'python3', '-c', SENDER, stop, ready], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      for (let i = 0; i < 100 && !fs.existsSync(ready); i++) await new Promise((r) => setTimeout(r, 50));
      for (const [k, c] of [T200, T100, T200, T100, T200, T100].entries()) {
        const a = apply(c);
        assert.equal(a.code, 0, `apply ${k}: ${a.stdout}${a.stderr}`);
      }
    } finally {
      fs.writeFileSync(stop, '');
      await exited;
    }
    const n = JSON.parse(out) as { sent: number; unreach: number; other: number };
    assert.ok(n.sent > 1000, `the sender ran: ${out}`);
    assert.deepEqual({ unreach: n.unreach, other: n.other }, { unreach: 0, other: 0 }, `packets fell through to the main table: ${out}`);
    assert.deepEqual(rules(), ['100:194']);
  });

  for (const fault of ['kill=1', 'errno=5']) {
    it(`${fault === 'kill=1' ? 'killed' : 'failing'} between the add and the delete, the apply goes back to exactly the old rule`, () => {
      const a = apply(BLACKHOLE, { VOLTRON_FAULT: `step=1,half=1,${fault}` });
      if (fault === 'kill=1') {
        assert.equal(a.code, -1, `apply should have died by SIGKILL; got ${a.code}\n${a.stderr}`);
        // Both live, the old one first: its traffic still takes table 100.
        assert.deepEqual(rules(), ['100:194', 'blackhole:194']);
        assert.equal(sb.pingUntil('h', ['-I', '10.50.0.1', '10.70.0.1'], 3).code, 0);
        const r = sb.run(['recover']);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /Rollback complete/);
      } else {
        assert.equal(a.code, 1, a.stdout + a.stderr);
        assert.match(a.stdout + a.stderr, /Rollback complete/);
      }
      assert.deepEqual(rules(), ['100:194']);
      assert.equal(sb.run(['plan', '--detailed-exitcode'], { config: T100 }).code, 0, 'the old rule is in sync');
    });
  }

  it('a foreign rule at that priority stays; the way back to table 100 is made before broken too', () => {
    sb.ip('h', ['rule', 'add', 'priority', '1100', 'from', '10.50.0.0/24', 'table', '100', 'proto', 'static']);
    const a = apply(BLACKHOLE);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.deepEqual(rules(), ['100:static', 'blackhole:194']);
    const b = apply(T100);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    assert.deepEqual(rules(), ['100:static', '100:194']);
    sb.ip('h', ['rule', 'del', 'priority', '1100', 'from', '10.50.0.0/24', 'table', '100', 'proto', 'static']);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});
