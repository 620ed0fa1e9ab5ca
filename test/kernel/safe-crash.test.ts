// Real kernel: a 50-step apply is killed with SIGKILL right after step k's kernel write (before
// its journal 'done' mark), for every k. Each time the next run (`recover`, or `plan`, which
// recovers first) restores exactly the pre-apply state: `ip -j` finds the same objects, no orphans.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { REPO, Sandbox, liveOracle } from '../support/sandbox';

const oracle = liveOracle;

const BASE = `
namespaces: [ { name: vka } ]
links:
  - { name: b0, type: bridge, mtu: 1500 }
  - { name: b1, type: bridge }
  - { name: b2, type: bridge, namespace: vka }
addresses:
  - { address: 10.1.0.1/24, dev: b0 }
  - { address: 10.1.1.1/24, dev: b1 }
  - { address: 10.2.0.1/24, dev: b2, namespace: vka }
routes:
  - { to: 10.50.0.0/16, via: 10.1.1.254 }
  - { to: 10.60.0.0/16, type: blackhole, namespace: vka }
`;

/** 50 changes over BASE: b0's mtu changes, b1 (and what hangs on it) goes, 48 objects come. */
function bigConfig(): string {
  const links: string[] = ['  - { name: b0, type: bridge, mtu: 9000 }', '  - { name: b2, type: bridge, namespace: vka }'];
  const addrs: string[] = ['  - { address: 10.1.0.1/24, dev: b0 }', '  - { address: 10.1.2.1/24, dev: b0 }', '  - { address: 10.2.0.1/24, dev: b2, namespace: vka }'];
  const routes: string[] = ['  - { to: 10.60.0.0/16, type: blackhole, namespace: vka }', '  - { to: 10.7.0.0/16, type: blackhole }'];
  for (let i = 0; i < 10; i++) {
    const ns = i % 2 ? ', namespace: vka' : '';
    links.push(`  - { name: n${i}, type: bridge${ns} }`);
    addrs.push(`  - { address: 10.3.${i}.1/24, dev: n${i}${ns} }`);
    addrs.push(`  - { address: 10.4.${i}.1/24, dev: n${i}${ns} }`);
    routes.push(`  - { to: 10.5.${i}.0/24, via: 10.3.${i}.254${ns} }`);
    if (i < 6) routes.push(`  - { to: 10.6.${i}.0/24, type: blackhole${ns} }`);
  }
  return `namespaces: [ { name: vka } ]\nlinks:\n${links.join('\n')}\naddresses:\n${addrs.join('\n')}\nroutes:\n${routes.join('\n')}\n`;
}

describe('SIGKILL at every step of a 50-step apply', () => {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
  const bigDir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
  fs.writeFileSync(path.join(baseDir, 'network.yaml'), BASE);
  fs.writeFileSync(path.join(bigDir, 'network.yaml'), bigConfig());
  const sb = new Sandbox('kil', baseDir);
  let pre = '';
  let steps = 0;
  before(() => {
    const r = sb.run(['apply', '--auto-approve']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    pre = oracle(sb);
    const p = sb.run(['plan', '-o', 'json'], { config: bigDir });
    assert.equal(p.code, 0, p.stderr);
    steps = JSON.parse(p.stdout).changes.length;
  });
  after(() => {
    sb.cleanup();
    fs.rmSync(baseDir, { recursive: true, force: true });
    fs.rmSync(bigDir, { recursive: true, force: true });
  });

  it('the big config is a 50-step plan with creates, an update and deletes', () => {
    assert.equal(steps, 50);
    assert.match(pre, /link root\/b1 bridge/);
  });

  it('every k: killed after step k, the next run restores the pre-apply state exactly', () => {
    const journal = path.join(sb.stateDir, 'sandbox', sb.prefix, 'journal.ndjson');
    for (let k = 1; k <= steps; k++) {
      const a = sb.run(['apply', '--auto-approve'], { config: bigDir, env: { VOLTRON_FAULT: `step=${k},kill=1` } });
      assert.equal(a.code, -1, `k=${k}: apply should have died by SIGKILL; got ${a.code}\n${a.stderr}`);
      assert.ok(fs.existsSync(journal), `k=${k}: journal left behind by the killed apply`);
      assert.notEqual(oracle(sb), pre, `k=${k}: the kill should leave a half-applied state`);
      // Alternate the recovering command: explicit recover, or a plan (which recovers first).
      const r = k % 2 ? sb.run(['recover']) : sb.run(['plan', '--detailed-exitcode']);
      assert.equal(r.code, 0, `k=${k}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout + r.stderr, /Rollback complete/, `k=${k}`);
      assert.equal(fs.existsSync(journal), false, `k=${k}: journal removed after recovery`);
      assert.equal(oracle(sb), pre, `k=${k}: live state differs from the pre-apply state`);
    }
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 0, p.stdout + p.stderr);
  });

  it('after all that, the full apply still works and destroy leaves nothing', () => {
    const a = sb.run(['apply', '--auto-approve'], { config: bigDir });
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(oracle(sb), /link root\/n0 bridge/);
    assert.doesNotMatch(oracle(sb), /b1/);
    const d = sb.run(['destroy', '--auto-approve'], { config: bigDir });
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});

// A namespace create is a file in /run/netns and a mount on it. Killed between the two, it left
// an empty file that every later read failed on (setns EINVAL), recovery included.
describe('SIGKILL inside a namespace create', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
  fs.writeFileSync(path.join(dir, 'network.yaml'), 'namespaces: [ { name: vkc } ]\nlinks:\n  - { name: b0, type: bridge, namespace: vkc }\n');
  const sb = new Sandbox('kns', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('recovery removes the empty /run/netns file its create left, then the apply converges', () => {
    // Killed after step 1 (the sandbox root namespace); then made a bare file, as a kill between
    // the file and its mount leaves it.
    const a = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: 'step=1,kill=1' } });
    assert.equal(a.code, -1, a.stderr);
    execFileSync('ip', ['netns', 'del', sb.ns('')]);
    fs.writeFileSync(`/run/netns/${sb.ns('')}`, '');
    const r = sb.run(['recover']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /removed \/run\/netns\/\S+root, an empty file left by the interrupted create/);
    assert.deepEqual(sb.namespaces(), []);
    const again = sb.run(['apply', '--auto-approve']);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('killed while the kernel makes the namespace (a slow unshare), no file is left at all', { skip: spawnSync('strace', ['-V']).status !== 0 && 'needs strace' }, async () => {
    assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
    // strace makes every unshare() take 2 s: the apply is killed inside the namespace create's.
    const args = ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=unshare', '-e', 'inject=unshare:delay_enter=2000000'];
    const child = spawn('strace', [...args, process.execPath, path.join(REPO, 'bin/voltron'), 'apply', '--auto-approve', '-c', dir, '--sandbox', sb.prefix, '--state-dir', sb.stateDir], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const journal = path.join(sb.stateDir, 'sandbox', sb.prefix, 'journal.ndjson');
    for (let i = 0; i < 300 && !fs.existsSync(journal); i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500));
    const lock = JSON.parse(fs.readFileSync(path.join(sb.stateDir, 'sandbox', sb.prefix, 'lock'), 'utf8')) as { pid: number };
    process.kill(lock.pid, 'SIGKILL');
    await exited;
    assert.deepEqual(fs.readdirSync('/run/netns').filter((n) => n.startsWith(sb.prefix)), []);
    const r = sb.run(['recover']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
  });
});
