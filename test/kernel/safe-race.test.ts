// Real kernel: another process creates objects under keys a running apply is about to create
// (the plan saw them free). The apply's create is refused (EEXIST) and it rolls back; the
// rollback must leave those objects alone: the failed create made nothing, and the steps after
// it were never sent. It used to delete them as the apply's own ("nothing changed").
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, Sandbox, liveOracle } from '../support/sandbox';

const BASE = `
links:
  - { name: b0, type: bridge }
addresses:
  - { address: 10.1.0.1/24, dev: b0 }
`;

/** BASE and 300 bridges with an address each, then a route per bridge: n299 comes late. */
function bigConfig(): string {
  const links = ['  - { name: b0, type: bridge }'];
  const addrs = ['  - { address: 10.1.0.1/24, dev: b0 }'];
  const routes: string[] = [];
  for (let i = 0; i < 300; i++) {
    links.push(`  - { name: n${i}, type: bridge }`);
    addrs.push(`  - { address: 10.${100 + Math.floor(i / 200)}.${i % 200}.1/24, dev: n${i} }`);
    routes.push(`  - { to: 10.${200 + Math.floor(i / 200)}.${i % 200}.0/24, type: blackhole }`);
  }
  return `links:\n${links.join('\n')}\naddresses:\n${addrs.join('\n')}\nroutes:\n${routes.join('\n')}\n`;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

describe('objects someone else creates under planned keys during an apply', () => {
  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
  const bigDir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
  fs.writeFileSync(path.join(baseDir, 'network.yaml'), BASE);
  fs.writeFileSync(path.join(bigDir, 'network.yaml'), bigConfig());
  const sb = new Sandbox('race', baseDir);
  after(() => {
    sb.cleanup();
    fs.rmSync(baseDir, { recursive: true, force: true });
    fs.rmSync(bigDir, { recursive: true, force: true });
  });

  it('the rollback of the refused create keeps them, and restores the rest', async () => {
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    const pre = liveOracle(sb);
    const preInventory = sb.inventory();
    const journal = path.join(sb.stateDir, 'sandbox', sb.prefix, 'journal.ndjson');
    const child = spawn(process.execPath, [path.join(REPO, 'bin/voltron'), 'apply', '--auto-approve', '-c', bigDir, '--sandbox', sb.prefix, '--state-dir', sb.stateDir, '--no-color'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Paused once its journal exists (the plan is made, few steps have run): the others act then.
    for (let i = 0; i < 20_000 && !fs.existsSync(journal); i++) sleep(1);
    child.kill('SIGSTOP');
    try {
      sb.ip('', ['link', 'add', 'n299', 'type', 'bridge']);
      sb.ip('', ['link', 'set', 'n299', 'alias', 'not voltron']);
      sb.ip('', ['addr', 'add', '10.101.99.1/24', 'dev', 'n299']); // n299's planned address
      sb.ip('', ['route', 'add', 'blackhole', '10.200.7.0/24']); // a route planned after n299
    } finally {
      child.kill('SIGCONT');
    }
    const code = await exited;
    assert.equal(code, 1, out);
    assert.match(out, /link \(root\)\/n299 \(bridge\): create link n299: EEXIST/);
    assert.match(out, /Rollback complete: .*verified/);
    assert.doesNotMatch(out, /rollback: delete .*(n299|10\.200\.7\.0)/);
    // Theirs, untouched.
    const n299 = sb.ipj('', ['-d', 'link', 'show', 'n299'])[0];
    assert.equal(n299?.ifalias, 'not voltron');
    assert.match(sb.ip('', ['addr', 'show', 'n299']), /10\.101\.99\.1\/24/);
    assert.match(sb.ip('', ['route', 'show', '10.200.7.0/24']), /blackhole/);
    // Without them, exactly the pre-apply state and inventory.
    sb.ip('', ['route', 'del', 'blackhole', '10.200.7.0/24']);
    sb.ip('', ['link', 'del', 'n299']);
    assert.equal(liveOracle(sb), pre);
    assert.deepEqual({ ...sb.inventory(), bootId: undefined, configDir: undefined }, { ...preInventory, bootId: undefined, configDir: undefined });
    assert.ok(!fs.existsSync(journal), 'journal removed');
    // And the big config now applies.
    const again = sb.run(['apply', '--auto-approve'], { config: bigDir });
    assert.equal(again.code, 0, again.stderr);
  });
});
