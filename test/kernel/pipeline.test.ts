// Real kernel: large applies send their plain netlink writes from a worker thread (the netlink
// pipeline). It must build exactly what the synchronous path builds, and a request the kernel
// rejects mid-pipeline must stop the plan at that step: the steps before it executed and
// journaled, nothing after it sent.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfigFromStrings } from '../../src/config/load';
import { executePlan, makePlan, canPipeline, type Journal } from '../../src/apply/reconcile';
import { KernelSession } from '../../src/kernel/session';
import { NetlinkPipeline } from '../../src/kernel/netlink/pipeline';
import { NetlinkError } from '../../src/kernel/netlink/socket';
import { EMPTY_INVENTORY } from '../../src/plan/types';
import type { LinkRes } from '../../src/model/types';
import { Sandbox, liveOracle } from '../support/sandbox';

function config(n: number): string {
  const links: string[] = [];
  const addrs: string[] = [];
  for (let i = 0; i < n; i++) {
    links.push(`  - { name: pbr${i}, type: bridge, mtu: 1500 }`);
    links.push(`  - { name: pvx${i}, type: vxlan, master: pbr${i}, vxlan: { vni: ${100 + i}, dstport: 4789 } }`);
    addrs.push(`  - { dev: pbr${i}, address: 10.70.${i}.1/24 }`);
  }
  return `links:\n${links.join('\n')}\naddresses:\n${addrs.join('\n')}\n`;
}

interface IpLink {
  ifname: string;
}

describe('netlink pipeline on the real kernel', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-pipe-'));
  fs.writeFileSync(path.join(dir, 'net.yaml'), config(40));
  const small = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-pipe-small-'));
  fs.writeFileSync(path.join(small, 'net.yaml'), config(12));
  const on = new Sandbox('pon', dir);
  const off = new Sandbox('pof', dir);
  after(() => {
    on.cleanup();
    off.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(small, { recursive: true, force: true });
  });

  it('builds exactly what the synchronous path builds, and replans to nothing', () => {
    const a = on.run(['apply', '--auto-approve'], { env: { VOLTRON_PIPELINE: '1' } });
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const b = off.run(['apply', '--auto-approve'], { env: { VOLTRON_PIPELINE: '0' } });
    assert.equal(b.code, 0, b.stdout + b.stderr);
    const live = liveOracle(on);
    assert.ok(live.includes('pvx39'), live.slice(0, 500));
    assert.equal(live, liveOracle(off));
    // Same number of kernel writes reported (the pipeline only changes who sends them).
    const writes = (s: string) => /(\d+) kernel write/.exec(s)?.[1];
    assert.equal(writes(a.stdout), writes(b.stdout));
    for (const sb of [on, off]) {
      const again = sb.run(['plan', '--detailed-exitcode']);
      assert.equal(again.code, 0, again.stdout + again.stderr);
    }
  });

  it('stops at a request the kernel rejects: steps before it done and journaled, nothing after it sent', () => {
    const prefix = `${on.prefix}fail-`;
    const phys = `${prefix}root`;
    const loaded = loadConfigFromStrings([{ name: 'net.yaml', text: config(40) }]);
    assert.ok(loaded.ok);
    const session = new KernelSession({ sandbox: prefix });
    const pipeline = new NetlinkPipeline();
    try {
      const { plan } = makePlan(session, loaded.desired, EMPTY_INVENTORY);
      const keys = plan.changes.map((c) => c.key);
      const victim = plan.changes.findIndex((c) => c.kind === 'link' && (c.after as LinkRes).name === 'pbr25');
      const trigger = plan.changes.findIndex((c) => c.kind === 'link' && (c.after as LinkRes).name === 'pbr20');
      assert.ok(trigger > 0 && victim > trigger && canPipeline(plan.changes[victim]!));
      const done: number[] = [];
      let injected = false;
      const journal: Journal = {
        begin(i) {
          // Behind Voltron's back, mid-apply: a link named like a later step's. (The kernel
          // gives it the next free ifindex, which Voltron may be about to use for its next
          // link: that create then fails in the pipeline and is re-run synchronously, so
          // steps may begin twice; the outcome below must be the same either way.)
          if (i === trigger && !injected) {
            injected = true;
            execFileSync('ip', ['-n', phys, 'link', 'add', 'pbr25', 'type', 'bridge']);
          }
        },
        done(i) {
          done.push(i);
        },
      };
      const outcome = executePlan(session, plan, EMPTY_INVENTORY, journal, undefined, pipeline);
      assert.ok(outcome.failed, 'the apply must fail');
      assert.equal(outcome.failed.change.key, keys[victim]);
      assert.ok(outcome.failed.error instanceof NetlinkError, String(outcome.failed.error));
      assert.equal((outcome.failed.error as NetlinkError).errno, 17);
      assert.deepEqual(outcome.executed.map((c) => c.key), keys.slice(0, victim));
      assert.deepEqual(done, [...Array(victim).keys()]);
      const names = new Set((JSON.parse(execFileSync('ip', ['-j', '-n', phys, 'link', 'show'], { encoding: 'utf8' })) as IpLink[]).map((l) => l.ifname));
      for (let k = 0; k < plan.changes.length; k++) {
        const c = plan.changes[k]!;
        if (c.kind !== 'link') continue;
        const name = (c.after as LinkRes).name;
        if (k < victim) assert.ok(names.has(name), `${name} (step ${k + 1}, before the failure) must exist`);
        if (k > victim) assert.ok(!names.has(name), `${name} (step ${k + 1}, after the failure) must not exist`);
      }
      const addrs = execFileSync('ip', ['-n', phys, '-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
      for (let k = victim + 1; k < plan.changes.length; k++) {
        const c = plan.changes[k]!;
        if (c.kind === 'address') assert.ok(!addrs.includes(` ${(c.after as { address: string }).address} `), `address of step ${k + 1} must not exist`);
      }
    } finally {
      pipeline.close();
      session.close();
      spawnSync('ip', ['netns', 'del', phys]);
    }
  });

  it('a step failing mid-pipeline (injected) stops the apply there and rolls back to the pre-apply state', () => {
    const sb = new Sandbox('pfl', dir);
    try {
      const pre = sb.run(['apply', '--auto-approve'], { config: small, env: { VOLTRON_PIPELINE: '1' } });
      assert.equal(pre.code, 0, pre.stdout + pre.stderr);
      const before = liveOracle(sb);
      for (const k of [3, 50, 84]) {
        const a = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_PIPELINE: '1', VOLTRON_FAULT: `step=${k},errno=5` } });
        assert.equal(a.code, 1, a.stdout + a.stderr);
        assert.match(a.stderr, /EIO: injected fault/, a.stderr);
        assert.match(a.stderr, new RegExp(`\\b${k - 1} of \\d+ changes were applied before the failure`), a.stderr);
        assert.match(a.stderr, /rolled back; nothing changed/, a.stderr);
        assert.equal(liveOracle(sb), before);
      }
      const ok = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_PIPELINE: '1' } });
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.ok(liveOracle(sb).includes('pvx39'));
    } finally {
      sb.cleanup();
    }
    // In a namespace the apply creates itself, link creates are pipelined too (chosen ifindexes).
    const fresh = new Sandbox('pfr', dir);
    try {
      const a = fresh.run(['apply', '--auto-approve'], { env: { VOLTRON_PIPELINE: '1', VOLTRON_FAULT: 'step=60,errno=5' } });
      assert.equal(a.code, 1, a.stdout + a.stderr);
      assert.match(a.stderr, /\b59 of \d+ changes were applied before the failure/, a.stderr);
      assert.match(a.stderr, /rolled back; nothing changed/, a.stderr);
      assert.deepEqual(fresh.namespaces(), []);
    } finally {
      fresh.cleanup();
    }
  });
});
