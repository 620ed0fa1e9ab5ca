// Real kernel, property: the pure plan and the live kernel agree on SRv6 and tc, the kinds the
// core agreement test (agreement.property.test.ts) does not draw. fast-check draws a sequence of
// 2-3 desired states over a small universe (test/support/srv6-tc-gen.ts: a veth pair between the
// sandbox root and a declared namespace, or within the root; seg6 tunsrc, an SRH pool with a binding SID, seg6 encap
// routes inline and from the pool, IPv4 over SRv6, seg6local SIDs of every action this kernel
// takes without a VRF, seg6_enabled sysctls; htb/tbf/pfifo root qdiscs (no fq_codel here), htb classes, a
// qdisc under a class, clsact); only states the loader accepts are used. For each state, in one
// sandbox: (b) the live plan equals the plan computePlan gives against the in-memory kernel
// (test/support/memkernel.ts) after the previous states' plans were applied to it; (a) `apply`
// verifies and an immediate re-plan is empty; (c) `ip -j`, `ip sr tunsrc` and `tc -j` agree on
// each route's encap, the tunsrc and the qdiscs. At the end `destroy` leaves nothing.
//
// AGREEMENT_SEED (default fixed) and AGREEMENT_RUNS (default 20) change the draw.
//
// What the memkernel does not model, and so is left out of the comparison (b):
// - `before` values of fields the config does not declare: the comparison is on key, action,
//   field names and `after` values (as in the core test);
// - the kernel's own objects (lo, link-local addresses, connected routes, the default qdiscs
//   noqueue/pfifo_fast/mq of a device): foreign to the plan, they are in neither plan;
// - defaults of a new namespace: seg6_enabled is 0 there and tunsrc `::`; an htb class's ceil
//   when it is not declared (the kernel sets it to the rate), an htb qdisc's r2q (10), the dev of a route declared with
//   only a gateway: seeded below.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { Resource } from '../../src/model/types';
import { Sandbox } from '../support/sandbox';
import { assertLivePlanIsPure } from '../support/agreement';
import { DrawStats } from '../support/config-gen';
import { srTcArb, renderSrTc } from '../support/srv6-tc-gen';
import { applyPlan, type MemState } from '../support/memkernel';

const SEED = Number(process.env['AGREEMENT_SEED'] ?? 20240611);
const RUNS = Number(process.env['AGREEMENT_RUNS'] ?? 20);

// ---------------------------------------------------------------- the in-memory side
const SYSCTL_DEFAULTS: Readonly<Record<string, string>> = { 'net.ipv6.conf.all.seg6_enabled': '0', 'net.ipv6.conf.default.seg6_enabled': '0' };

/** What a new namespace holds: seg6_enabled 0, no tunsrc (unlike the memkernel, which holds only what was written). */
function seedDefaults(state: MemState): void {
  for (const [k, r] of [...state]) {
    // An htb class written without a ceil has ceil = rate in the kernel.
    if (r.kind === 'tclass' && r.ceil === undefined) state.set(k, { ...r, ceil: r.rate });
    // A route with a gateway and no dev gets the gateway's link (the universe's only one: va0).
    if (r.kind === 'route' && r.via === '2001:db8:1::2' && r.dev === undefined) state.set(k, { ...r, dev: 'va0' });
    // An htb qdisc written without r2q has the kernel's 10.
    if (r.kind === 'qdisc' && r.qdisc === 'htb' && r.options['r2q'] === undefined) state.set(k, { ...r, options: { ...r.options, r2q: 10 } });
  }
  for (const r of [...state.values()]) {
    if (r.kind !== 'namespace') continue;
    for (const [key, value] of Object.entries(SYSCTL_DEFAULTS)) {
      const k = `sysctl:${r.name}/${key}`;
      if (!state.has(k)) state.set(k, { kind: 'sysctl', namespace: r.name, key, value });
    }
    const t = `tunsrc:${r.name}`;
    if (!state.has(t)) state.set(t, { kind: 'tunsrc', namespace: r.name, address: '::' });
  }
}

// ---------------------------------------------------------------- the live side
describe('the pure plan and the live kernel agree on SRv6 and tc (property, real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-agree-srtc-'));
  const sb = new Sandbox('ast', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const tcj = (ns: string, args: string[]): any[] => {
    const out = execFileSync('tc', ['-n', sb.ns(ns), '-j', ...args], { encoding: 'utf8' }).trim();
    return out ? JSON.parse(out) : [];
  };

  /** (c): each route's encap, the tunsrc and the qdiscs, as iproute2 shows them. */
  function checkLive(desired: Map<string, Resource>, ctx: string): void {
    const nss = [...desired.values()].filter((r) => r.kind === 'namespace').map((r) => (r as { name: string }).name);
    for (const ns of nss) {
      const routes = [...sb.ipj(ns, ['-6', 'route', 'show', 'table', 'all']), ...sb.ipj(ns, ['-4', 'route', 'show', 'table', 'all'])];
      for (const r of desired.values()) {
        if (r.kind !== 'route' || r.namespace !== ns || !r.encap) continue;
        const dst = r.to.endsWith('/128') || r.to.endsWith('/32') ? r.to.split('/')[0] : r.to;
        // Not by table: `ip -j` prints a seg6local action's `table` under the route's own key.
        const got = routes.find((x: { dst: string }) => x.dst === dst);
        assert.ok(got, `route ${ns}/${r.to} missing\n${ctx}`);
        assert.equal(got.encap, r.encap.type, `encap of ${ns}/${r.to}: ${JSON.stringify(got)}\n${ctx}`);
      }
      const t = sb.ip(ns, ['sr', 'tunsrc', 'show']).trim().replace(/^tunsrc addr /, '');
      const want = desired.get(`tunsrc:${ns}`);
      if (want?.kind === 'tunsrc') assert.equal(t, want.address, `tunsrc of ${ns || 'root'}\n${ctx}`);
      for (const dev of [...desired.values()].filter((r) => r.kind === 'link' && r.namespace === ns).map((r) => (r as { name: string }).name)) {
        const live = tcj(ns, ['qdisc', 'show', 'dev', dev]).map((q: { kind: string; handle: string }) => `${q.kind} ${q.handle}`);
        for (const q of desired.values()) {
          if (q.kind !== 'qdisc' || q.namespace !== ns || q.dev !== dev) continue;
          const handle = q.qdisc === 'clsact' ? 'ffff:' : q.handle;
          assert.ok(live.some((l: string) => l.startsWith(`${q.qdisc} `) && (handle === undefined || l === `${q.qdisc} ${handle}`)), `qdisc ${q.qdisc} ${handle ?? ''} on ${ns}/${dev}: live ${live.join(', ')}\n${ctx}`);
        }
      }
    }
  }

  it('over random sequences of valid SRv6/tc states: live plan = memkernel plan, apply verifies, iproute2 agrees, destroy leaves nothing', () => {
    const cfg = path.join(dir, 'net.yaml');
    let steps = 0;
    const stats = new DrawStats();
    fc.assert(
      fc.property(fc.array(srTcArb, { minLength: 2, maxLength: 3 }), (seq) => {
        const states = stats.keepValid(seq.map(renderSrTc));
        if (states.length === 0) return;
        const mem: MemState = new Map();
        const log: string[] = [];
        try {
          for (const [i, s] of states.entries()) {
            fs.writeFileSync(cfg, s.text);
            log.push(`--- state ${i + 1}\n${s.text}`);
            const ctx = () => log.join('\n');
            // (b) the live plan against the memkernel's.
            const pure = assertLivePlanIsPure(sb, s.desired, mem, ctx);
            // (a) apply verifies; the re-plan is empty.
            const a = sb.run(['apply', '--auto-approve']);
            assert.equal(a.code, 0, `apply failed\n${a.stdout}${a.stderr}\n${ctx()}`);
            const again = sb.run(['plan', '--detailed-exitcode']);
            assert.equal(again.code, 0, `re-plan not empty\n${again.stdout}${again.stderr}\n${ctx()}`);
            // (c) iproute2.
            checkLive(s.desired, ctx());
            applyPlan(mem, pure);
            seedDefaults(mem);
            steps++;
          }
        } finally {
          const d = sb.run(['destroy', '--auto-approve']);
          const left = sb.namespaces();
          if (d.code !== 0 || left.length) {
            sb.cleanup();
            assert.fail(`destroy: code ${d.code}, left ${left.join(' ')}\n${d.stdout}${d.stderr}\n${log.join('\n')}`);
          }
        }
        assert.deepEqual(Object.keys(sb.inventory().owned), [], `destroy left owned objects\n${log.join('\n')}`);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: process.env['AGREEMENT_SHRINK'] === undefined },
    );
    const why = stats.why();
    const { accepted, rejected } = stats;
    console.log(`agreement-srv6-tc: ${accepted} states accepted, ${rejected} rejected, ${steps} applied\n${why}`);
    assert.ok(accepted >= 2 * rejected, `the loader rejected most states (${rejected} of ${accepted + rejected}): fix the generator\n${why}`);
  });
});
