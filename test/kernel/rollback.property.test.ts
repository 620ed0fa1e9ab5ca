// Real kernel, property: rollback over random transitions. fast-check draws two valid states A
// and B from the agreement test's generator (test/support/config-gen.ts: links of every type,
// veths across namespaces, addresses, routes, rules, sysctls). In one sandbox: apply A; then
// apply B with a fault at a random step k of its plan (VOLTRON_FAULT: an injected netlink error
// before step k's write, or SIGKILL right after it followed by `voltron recover` or a `plan`,
// which recovers first). Afterwards the live state (`ip -j` of everything in the sandbox, rules,
// the generator's sysctls, bridge options, aliases and VNI filters included) and the inventory
// equal those after A, and `plan` against A is empty. Then B applies and re-plans empty. At the
// end `destroy` leaves nothing.
//
// ROLLBACK_SEED (default fixed) and ROLLBACK_RUNS (default 40, ~70 s) change the draw.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Sandbox, liveOracle } from '../support/sandbox';
import { choicesArb, desiredOf, render } from '../support/config-gen';

const SEED = Number(process.env['ROLLBACK_SEED'] ?? 20261122);
const RUNS = Number(process.env['ROLLBACK_RUNS'] ?? 40);
const SYSCTLS = ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding', 'net.ipv4.conf.all.rp_filter', 'net.ipv6.conf.all.seg6_enabled'];
/** The generator's per-device keys (`%` the device), read for every link of the sandbox. */
const DEVICE_SYSCTLS = ['net.ipv4.conf.%.rp_filter', 'net.ipv4.conf.%.accept_local', 'net.ipv6.conf.%.seg6_enabled', 'net.ipv6.conf.%.disable_ipv6'];

const ZERO_MAC = '00:00:00:00:00:00';

/**
 * A bridge whose last port left has the all-zero MAC, which no kernel call sets back: a
 * recreated one gets a random MAC, one the apply gave a MAC keeps it (and the rollback says
 * so: docs/safe-apply.md). Their MAC lines are left out of both oracles; the MACs kept are
 * returned, for the caller to check the rollback's note.
 */
function zeroMacsAnyAfter(pre: string, post: string): { pre: string; post: string; kept: string[] } {
  const zero = new Set([...pre.matchAll(new RegExp(`^mac (\\S+) ${ZERO_MAC}$`, 'gm'))].map((m) => m[1]!));
  const keep = (line: string) => !(line.startsWith('mac ') && zero.has(line.split(' ')[1]!));
  const kept = post.split('\n').filter((l) => !keep(l) && !l.endsWith(ZERO_MAC)).map((l) => l.split(' ')[2]!);
  return { pre: pre.split('\n').filter(keep).join('\n'), post: post.split('\n').filter(keep).join('\n'), kept };
}
/** The plan's refusal of a macvlan mtu above its parent's live one (undeclared): only macvlan problems. */
const MACVLAN_MTU_REFUSED = /^refusing to plan:\n(?: {2}link \S+ \(macvlan\): mtu \d+ is above the mtu \d+ its parent \S+ has \(the config declares none for it\).*\n?)+$/;

/** Link attributes liveOracle leaves out: the kind-specific ones the generator varies. */
function linkDetails(links: readonly any[], ns: string): string[] {
  const out: string[] = [];
  for (const l of links) {
    const d = l.linkinfo?.info_data ?? {};
    const kind = l.linkinfo?.info_kind;
    const pick = (keys: string[]) => keys.map((k) => `${k}=${JSON.stringify(d[k] ?? null)}`).join(' ');
    if (kind === 'bridge') out.push(`bridge ${ns}/${l.ifname} ${pick(['stp_state', 'ageing_time', 'forward_delay', 'mcast_snooping'])}`);
    if (kind === 'vxlan') out.push(`vxlan ${ns}/${l.ifname} ${pick(['id', 'local', 'remote', 'group', 'port', 'ttl', 'learning', 'external', 'vnifilter', 'link'])}`);
    if (kind === 'macvlan') out.push(`macvlan ${ns}/${l.ifname} ${pick(['mode'])}`);
    // A MAC the config declares (the generator's are 02:00:00:00:00:xx), or the all-zero one (a
    // bridge whose last port left: see zeroMacsAnyAfter); others are the kernel's choice.
    if (l.address?.startsWith('02:00:00:00:00:') || l.address === ZERO_MAC) out.push(`mac ${ns}/${l.ifname} ${l.address}`);
    if (l.ifalias) out.push(`alias ${ns}/${l.ifname} ${l.ifalias}`);
  }
  return out;
}

/**
 * A VXLAN keeps its MTU when its device's is lowered, and no creation can give it that MTU back
 * (the kernel lowers it to the device's less the headers): compare what a recreation gives.
 */
function reachableVxlanMtus(sb: Sandbox, oracle: string): string {
  const caps = new Map<string, number>();
  for (const phys of sb.namespaces()) {
    const ns = phys.slice(sb.prefix.length);
    const links: { ifname: string; ifindex: number; mtu: number; link_index?: number; linkinfo?: { info_kind?: string; info_data?: { link?: string; local?: string; remote?: string; group?: string } } }[] = sb.ipj(ns === 'root' ? '' : ns, ['-d', 'link', 'show']);
    for (const l of links) {
      const d = l.linkinfo?.info_data;
      if (l.linkinfo?.info_kind !== 'vxlan' || !d?.link) continue;
      const dev = links.find((x) => x.ifname === d.link);
      const v6 = [d.local, d.remote, d.group].some((a) => a?.includes(':'));
      if (dev) caps.set(`${ns}/${l.ifname}`, Math.max(68, dev.mtu - (v6 ? 70 : 50)));
    }
  }
  return oracle.replace(/^(link (\S+) vxlan mtu=)(\d+)/gm, (m, head: string, key: string, mtu: string) => {
    const cap = caps.get(key);
    return cap !== undefined && Number(mtu) > cap ? `${head}${cap}` : m;
  });
}

/** `bridge -j -n <ns> args` parsed. */
function bridgeJson(sb: Sandbox, logical: string, args: readonly string[]): any[] {
  const r = spawnSync('bridge', ['-j', '-n', sb.ns(logical), ...args], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? JSON.parse(r.stdout) : [];
}

/** Everything observable in the sandbox: liveOracle plus rules, sysctls, kind attributes. */
function fullOracle(sb: Sandbox): string {
  const out: string[] = [reachableVxlanMtus(sb, liveOracle(sb))];
  for (const phys of sb.namespaces()) {
    const ns = phys.slice(sb.prefix.length);
    const logical = ns === 'root' ? '' : ns;
    const links = sb.ipj(logical, ['-d', 'link', 'show']);
    out.push(...linkDetails(links, ns));
    for (const fam of ['-4', '-6']) {
      for (const r of sb.ipj(logical, [fam, 'rule', 'show'])) {
        out.push(`rule ${ns} ${fam} ${r.priority} from=${r.src ?? 'all'}/${r.srclen ?? ''} to=${r.dst ?? 'all'}/${r.dstlen ?? ''} fwmark=${r.fwmark ?? '-'}/${r.fwmask ?? '-'} table=${r.table}`);
      }
    }
    const devs: string[] = links.map((l: { ifname: string }) => l.ifname).filter((n: string) => n !== 'lo');
    const s = sb.exec(logical, ['sysctl', ...SYSCTLS, ...devs.flatMap((dev) => DEVICE_SYSCTLS.map((k) => k.replace('%', dev)))]);
    out.push(...s.stdout.trim().split('\n').map((x) => `sysctl ${ns} ${x}`));
    if (links.some((l: any) => l.linkinfo?.info_data?.vnifilter)) {
      for (const v of bridgeJson(sb, logical, ['vni', 'show'])) out.push(`vnis ${ns}/${v.ifname} ${JSON.stringify(v.vnis ?? [])}`);
    }
  }
  return out.join('\n').split('\n').sort().join('\n');
}

/**
 * Foreign objects in the sandbox root, made behind Voltron's back (once per sandbox): every
 * rollback must leave them untouched (the oracle covers them).
 */
function addForeign(sb: Sandbox): void {
  if (sb.ipj('', ['link', 'show']).some((l: { ifname: string }) => l.ifname === 'frgn0')) return;
  sb.ip('', ['link', 'add', 'name', 'frgn0', 'type', 'bridge']);
  sb.ip('', ['addr', 'add', '10.99.0.1/24', 'dev', 'frgn0']);
  sb.ip('', ['link', 'set', 'frgn0', 'up']);
  sb.ip('', ['route', 'add', '10.98.0.0/16', 'via', '10.99.0.254', 'proto', 'static']);
  sb.ip('', ['rule', 'add', 'priority', '50', 'to', '10.97.0.0/16', 'table', '200']);
}

/** An inventory file without its record of link ifindexes and namespace cookies. */
function withoutIndexes(text: string): unknown {
  const { ifindex: _i, netnsCookie: _c, ...rest } = JSON.parse(text) as { ifindex?: unknown; netnsCookie?: unknown };
  return rest;
}

describe('rollback over random transitions A -> B with a fault at a random step (property, real kernel)', () => {
  const dirA = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-rbA-'));
  const dirB = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-rbB-'));
  const sb = new Sandbox('rbp', dirA);
  after(() => {
    sb.cleanup();
    fs.rmSync(dirA, { recursive: true, force: true });
    fs.rmSync(dirB, { recursive: true, force: true });
  });
  const invFile = () => path.join(sb.stateDir, 'sandbox', sb.prefix, 'inventory.json');
  const inventory = () => (fs.existsSync(invFile()) ? fs.readFileSync(invFile(), 'utf8') : '{}');

  it('the live state, the inventory and the plan are those after A; B then applies', () => {
    let runs = 0;
    const modes = new Set<string>();
    const historyFailures: string[] = [];
    fc.assert(
      fc.property(choicesArb, choicesArb, fc.nat(999), fc.constantFrom('errno=1', 'errno=17', 'errno=22', 'kill=1', 'kill=1,plan'), (ca, cb, kk, how) => {
        const [fault, recoverBy] = how.split(',plan').length > 1 ? ['kill=1', 'plan'] : [how, 'recover'];
        const [ta, tb] = [render(ca), render(cb)];
        if (!desiredOf(ta) || !desiredOf(tb)) return;
        fs.writeFileSync(path.join(dirA, 'net.yaml'), ta);
        fs.writeFileSync(path.join(dirB, 'net.yaml'), tb);
        const log = [`--- A\n${ta}`, `--- B\n${tb}`];
        const ctx = () => log.join('\n');
        try {
          let a = sb.run(['apply', '--auto-approve']);
          if (a.code !== 0) {
            // A is valid on its own but may not be from the previous run's state: an undeclared
            // field left as it was can conflict (a macvlan MTU above its parent's undeclared one:
            // EINVAL). Such a failure must roll back, or be refused by the plan before any write
            // (MACVLAN_MTU_REFUSED); A then applies from an empty sandbox.
            assert.ok(/rolled back; nothing changed/.test(a.stderr) || MACVLAN_MTU_REFUSED.test(a.stderr), `apply A failed without rolling back\n${a.stdout}${a.stderr}\n${ctx()}`);
            historyFailures.push(a.stderr.split('\n').find((l) => l.startsWith('Error:') || l.startsWith('  link ')) ?? '?');
            assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
            a = sb.run(['apply', '--auto-approve']);
          }
          assert.equal(a.code, 0, `apply A failed\n${a.stdout}${a.stderr}\n${ctx()}`);
          addForeign(sb);
          const preLive = fullOracle(sb);
          const preInv = inventory();
          const p = sb.run(['plan', '-o', 'json'], { config: dirB });
          // B valid alone, refused from A (a macvlan mtu above the one its parent keeps from A): no transition.
          if (p.code === 1 && MACVLAN_MTU_REFUSED.test(p.stderr)) return;
          assert.equal(p.code, 0, `plan B failed\n${p.stderr}\n${ctx()}`);
          const n = (JSON.parse(p.stdout).changes as unknown[]).length;
          if (n === 0) return;
          const k = (kk % n) + 1;
          log.push(`--- fault step=${k} of ${n}, ${fault}`);
          const f = sb.run(['apply', '--auto-approve'], { config: dirB, env: { VOLTRON_FAULT: `step=${k},${fault}` } });
          log.push(f.stdout + f.stderr);
          if (fault === 'kill=1') {
            assert.equal(f.code, -1, `apply B should have died by SIGKILL\n${ctx()}`);
            // `recover`, or a `plan` against A (which recovers first, then plans nothing).
            const r = recoverBy === 'plan' ? sb.run(['plan', '--detailed-exitcode']) : sb.run(['recover']);
            log.push(r.stdout + r.stderr);
            assert.equal(r.code, 0, `${recoverBy} after the kill failed\n${ctx()}`);
            assert.match(r.stdout + r.stderr, /Rollback complete/, ctx());
          } else {
            assert.equal(f.code, 1, `apply B should have failed\n${ctx()}`);
            assert.match(f.stderr, /rolled back; nothing changed/, ctx());
          }
          const cmp = zeroMacsAnyAfter(preLive, fullOracle(sb));
          assert.equal(cmp.post, cmp.pre, `live state after the rollback (actual) vs after A (expected)\n${ctx()}`);
          for (const mac of cmp.kept) assert.match(log.join('\n'), new RegExp(`keeps mac ${mac}: `), `a MAC kept without a note\n${ctx()}`);
          assert.deepEqual(withoutIndexes(inventory()), withoutIndexes(preInv), `inventory after the rollback\n${ctx()}`);
          const again = sb.run(['plan', '--detailed-exitcode']);
          assert.equal(again.code, 0, `plan against A not empty after the rollback\n${again.stdout}${again.stderr}\n${ctx()}`);
          const b = sb.run(['apply', '--auto-approve'], { config: dirB });
          assert.equal(b.code, 0, `apply B after the rollback failed\n${b.stdout}${b.stderr}\n${ctx()}`);
          const planB = sb.run(['plan', '--detailed-exitcode'], { config: dirB });
          assert.equal(planB.code, 0, `re-plan of B not empty\n${planB.stdout}${planB.stderr}\n${ctx()}`);
          modes.add(fault === 'kill=1' ? `kill+${recoverBy}` : 'errno');
          runs++;
        } catch (e) {
          // The next run starts clean whatever happened.
          sb.run(['recover']);
          sb.cleanup();
          throw e;
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: process.env['ROLLBACK_SHRINK'] === undefined },
    );
    console.log(`rollback property: ${runs} transitions rolled back (${[...modes].join(', ')}); A failed from the previous state ${historyFailures.length} time(s)${historyFailures.map((e) => `\n  ${e}`).join('')}`);
    assert.ok(runs >= Math.ceil(RUNS / 2), `only ${runs} of ${RUNS} draws gave a valid non-empty transition`);
    assert.match(fullOracle(sb), /frgn0/);
    sb.ip('', ['link', 'del', 'frgn0']);
    sb.ip('', ['rule', 'del', 'priority', '50']);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.deepEqual(sb.namespaces(), []);
  });
});

// Found by the property above: a bridge whose last port left has the all-zero MAC; a rollback
// that recreated it with that address failed (EADDRNOTAVAIL) and left the namespace half restored.
describe('rollback recreates a bridge whose last port left (all-zero MAC)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-rbz-'));
  const file = path.join(dir, 'net.yaml');
  const sb = new Sandbox('rbz', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const withPort = (master: string) => `namespaces: [ { name: na } ]\nlinks:\n  - { name: br1, namespace: na, type: bridge }\n  - { name: va1, namespace: na, type: veth${master}, peer: { name: vb1, namespace: na } }\n`;

  it('the rollback restores the bridge, and the apply then succeeds', () => {
    for (const text of [withPort(', master: br1'), withPort('')]) {
      fs.writeFileSync(file, text);
      const a = sb.run(['apply', '--auto-approve']);
      assert.equal(a.code, 0, a.stdout + a.stderr);
    }
    const [br] = sb.ipj('na', ['link', 'show', 'dev', 'br1']);
    assert.equal(br.address, '00:00:00:00:00:00', 'the kernel behaviour this test is about');
    const pre = fullOracle(sb);
    // B: namespace na goes (and br1 with it), a blackhole comes; the second step fails.
    fs.writeFileSync(file, 'routes: [ { to: 10.60.0.0/16, type: blackhole } ]\n');
    for (const fault of ['errno=17', 'kill=1']) {
      const f = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: `step=2,${fault}` } });
      const r = fault === 'kill=1' ? sb.run(['recover']) : f;
      assert.match(r.stdout + r.stderr, /Rollback complete/, f.stdout + f.stderr + r.stdout + r.stderr);
      const cmp = zeroMacsAnyAfter(pre, fullOracle(sb));
      assert.equal(cmp.post, cmp.pre);
    }
    const b = sb.run(['apply', '--auto-approve']);
    assert.equal(b.code, 0, b.stdout + b.stderr);
  });
});

// A rollback recreates what Voltron owned in a namespace the plan deleted, never someone
// else's objects that went with it: it names them instead.
describe('rollback of a namespace delete names the foreign objects it does not recreate (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-rbf-'));
  const file = path.join(dir, 'net.yaml');
  const sb = new Sandbox('rbf', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the owned bridge is back, the foreign one is not, and the note says so', () => {
    fs.writeFileSync(file, 'namespaces: [ { name: na } ]\nlinks:\n  - { name: br1, namespace: na, type: bridge }\n');
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    sb.ip('na', ['link', 'add', 'fb0', 'type', 'bridge']);
    // B: namespace na goes (br1 and the foreign fb0 with it), a blackhole comes; step 2 fails.
    fs.writeFileSync(file, 'routes: [ { to: 10.60.0.0/16, type: blackhole } ]\n');
    const f = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: 'step=2,errno=17' } });
    const out = f.stdout + f.stderr;
    assert.match(out, /Rollback complete/, out);
    assert.match(f.stderr, /note: \d+ foreign object\(s\) inside containers the plan removed are not recreated \([^\n]*fb0 \(bridge\)/, out);
    const names = sb.ipj('na', ['link', 'show']).map((l: { ifname: string }) => l.ifname);
    assert.ok(names.includes('br1') && !names.includes('fb0'), `owned bridge restored, foreign one not: ${names.join(' ')}`);
  });
});

// Found by the property above (ROLLBACK_SEED=203): an apply that gave a MAC to a bridge whose
// last port had left (all-zero MAC) and then failed was rolled back with the MAC kept (no kernel
// call sets the all-zero MAC back) and said "nothing changed". It now says what it kept.
describe('rollback of a MAC given to a bridge with the all-zero MAC says the MAC is kept (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-rbm-'));
  const file = path.join(dir, 'net.yaml');
  const sb = new Sandbox('rbm', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const br = (master: string) => `links:\n  - { name: br0, type: bridge }\n  - { name: va0, type: veth${master}, peer: { name: vb0 } }\n`;

  it('the rollback notes the kept MAC instead of claiming nothing changed', () => {
    for (const fault of ['errno=17', 'kill=1']) {
      // A bridge whose only port left: the all-zero MAC (a fresh one each time: the MAC stays).
      assert.equal(sb.run(['destroy', '--auto-approve']).code, 0);
      for (const text of [br(', master: br0'), br('')]) {
        fs.writeFileSync(file, text);
        assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
      }
      assert.equal(sb.ipj('', ['link', 'show', 'dev', 'br0'])[0].address, ZERO_MAC, 'the kernel behaviour this test is about');
      // B: br0 gets a MAC (step 1), a blackhole comes (step 2, which fails).
      fs.writeFileSync(file, 'links:\n  - { name: br0, type: bridge, mac: "02:00:00:00:00:b0" }\n  - { name: va0, type: veth, peer: { name: vb0 } }\nroutes: [ { to: 10.60.0.0/16, type: blackhole } ]\n');
      const f = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: `step=2,${fault}` } });
      const r = fault === 'kill=1' ? sb.run(['recover']) : f;
      const out = f.stdout + f.stderr + r.stdout + r.stderr;
      assert.match(r.stdout + r.stderr, /Rollback complete/, out);
      assert.match(r.stderr, /note: link \(root\)\/br0 \(bridge\) keeps mac 02:00:00:00:00:b0: it had the kernel's all-zero MAC/, out);
      if (fault === 'errno=17') assert.match(f.stderr, /rolled back; nothing changed but what the note\(s\) above say\./, out);
    }
  });
});

// Found by the property above: a VXLAN keeps its MTU when its device's is lowered, and the
// kernel cannot recreate that MTU; the rollback that recreated the VXLAN failed to verify.
describe('rollback recreates a VXLAN whose MTU is above its lowered device (real kernel)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-rbv-'));
  const file = path.join(dir, 'net.yaml');
  const sb = new Sandbox('rbv', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const vx = (mtu: number) => `links:\n  - { name: br0, type: bridge, mtu: ${mtu} }\n  - { name: vx0, type: vxlan, vxlan: { vni: 5, dev: br0 } }\n`;

  it('the rollback completes with the MTU the kernel gives, and A plans empty', () => {
    for (const text of [vx(9000), vx(1500)]) {
      fs.writeFileSync(file, text);
      const a = sb.run(['apply', '--auto-approve']);
      assert.equal(a.code, 0, a.stdout + a.stderr);
    }
    assert.equal(sb.ipj('', ['link', 'show', 'dev', 'vx0'])[0].mtu, 8950, 'the kernel behaviour this test is about');
    // B: vx0 goes, a blackhole comes; the second step fails.
    fs.writeFileSync(file, 'links: [ { name: br0, type: bridge, mtu: 1500 } ]\nroutes: [ { to: 10.60.0.0/16, type: blackhole } ]\n');
    const f = sb.run(['apply', '--auto-approve'], { env: { VOLTRON_FAULT: 'step=2,errno=17' } });
    assert.match(f.stderr, /rolled back; nothing changed/, f.stdout + f.stderr);
    assert.equal(sb.ipj('', ['link', 'show', 'dev', 'vx0'])[0].mtu, 1450);
    fs.writeFileSync(file, vx(1500));
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });
});
