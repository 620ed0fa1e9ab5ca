// Real kernel: try mode (apply --confirm-within + confirm, detached watchdog), locking, and
// --no-rollback, through the CLI in a sandbox.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const CONFIG = `
namespaces: [ { name: vtr-a } ]
links:
  - { name: br0, type: bridge, mtu: 1400 }
  - { name: br1, type: bridge, namespace: vtr-a }
addresses:
  - { address: 10.41.0.1/24, dev: br0 }
routes:
  - { to: 10.42.0.0/16, via: 10.41.0.254 }
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for: ${what}`);
}

describe('try mode, locking and --no-rollback (real kernel)', () => {
  const cfg = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
  fs.writeFileSync(path.join(cfg, 'network.yaml'), CONFIG);
  const sb = new Sandbox('try', cfg);
  const state = path.join(sb.stateDir, 'sandbox', sb.prefix);
  const lockFile = path.join(state, 'lock');
  const journal = path.join(state, 'journal.ndjson');
  after(() => {
    // A watchdog left by a failed test reverts by itself within its window; cleanup removes the rest.
    sb.cleanup();
    fs.rmSync(cfg, { recursive: true, force: true });
  });

  it('without confirm, the detached watchdog reverts to the pre-apply state and exits', async () => {
    const a = sb.run(['apply', '--auto-approve', '--confirm-within', '2s']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    // With the options that find this state dir: a bare `voltron confirm` looked in another one.
    assert.ok(a.stdout.includes(`Try mode: run \`voltron confirm --sandbox ${sb.prefix} --state-dir ${sb.stateDir}\` within 2s`), a.stdout);
    assert.equal(sb.namespaces().length, 2); // the CLI has exited; the watchdog holds the lock
    const holder = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
    assert.match(holder.command, /^watchdog/);
    process.kill(holder.pid, 0); // alive
    // Mutations are refused while the try is pending; plan still runs.
    const b = sb.run(['apply', '--auto-approve']);
    assert.equal(b.code, 1);
    assert.match(b.stderr, new RegExp(`locked by pid ${holder.pid} .*watchdog.*voltron confirm`));
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    await until('revert', () => sb.namespaces().length === 0 && !fs.existsSync(lockFile) && !fs.existsSync(journal), 10_000);
    const alive = () => {
      try {
        process.kill(holder.pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await until('watchdog exit', () => !alive(), 3_000);
    assert.match(fs.readFileSync(path.join(state, 'watchdog.log'), 'utf8'), /not confirmed in time[\s\S]*Rollback complete/);
    // Too late, and said so: "nothing pending" read as if the applied state had stood.
    const late = sb.run(['confirm']);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /^Error: too late: the last apply --confirm-within was not confirmed in time; its watchdog reverted it to the pre-apply state at \S+ \(see .*watchdog\.log\)\.\n$/);
  });

  it('with confirm in time, the applied state stands', async () => {
    const a = sb.run(['apply', '--auto-approve', '--confirm-within', '4s']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const c = sb.run(['confirm']);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.match(c.stdout, /Confirmed/);
    await until('watchdog gone', () => !fs.existsSync(lockFile) && !fs.existsSync(journal), 5_000);
    await sleep(4_500); // past the deadline
    assert.equal(sb.namespaces().length, 2);
    assert.equal(sb.ipj('', ['link', 'show', 'br0'])[0].mtu, 1400);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
    // Confirmed since the revert above: a second confirm has nothing to do, and no revert to tell of.
    const again = sb.run(['confirm']);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'Error: nothing to confirm: no apply --confirm-within is pending.\n');
  });

  it('a live lock holder is named and blocks mutations; a dead one is taken over', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      fs.writeFileSync(lockFile, JSON.stringify({ pid: child.pid, host: os.hostname(), command: 'voltron apply', startedAt: '2026-01-01T00:00:00Z' }));
      for (const cmd of [['apply', '--auto-approve'], ['destroy', '--auto-approve'], ['recover']]) {
        const r = sb.run(cmd);
        assert.equal(r.code, 1, `${cmd[0]}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, new RegExp(`locked by pid ${child.pid} on .* \\(voltron apply, since 2026-01-01T00:00:00Z\\)`));
      }
      assert.equal(sb.run(['plan']).code, 0);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    const r = sb.run(['recover']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`took over a stale lock from pid ${child.pid}`));
    assert.equal(fs.existsSync(lockFile), false);
  });

  it('--no-rollback keeps partial progress and records it in the inventory', () => {
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    const a = sb.run(['apply', '--auto-approve', '--no-rollback'], { env: { VOLTRON_FAULT: 'step=4,errno=16' } });
    assert.equal(a.code, 1);
    assert.match(a.stderr, /EBUSY: injected fault[\s\S]*Partial progress kept/);
    const inv = JSON.parse(fs.readFileSync(path.join(state, 'inventory.json'), 'utf8'));
    assert.equal(Object.keys(inv.owned).length, 3, JSON.stringify(inv.owned));
    assert.equal(fs.existsSync(journal), false);
    assert.ok(sb.namespaces().length > 0);
    const z = sb.run(['destroy', '--auto-approve']);
    assert.equal(z.code, 0, z.stdout + z.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});
