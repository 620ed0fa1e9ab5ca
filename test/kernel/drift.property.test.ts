// Real kernel, property: drift made behind Voltron's back shows in `plan` and `apply` repairs it,
// touching nothing it does not own. From a random valid config (test/support/config-gen.ts),
// applied in a sandbox, 1-4 random drifts are made with plain `ip`/`bridge`/`sysctl`: link mtu,
// state, alias, MAC, bridge options, a VXLAN's VNI filter entries, master; a link deleted, or
// recreated with its name and another type; an address deleted; a route deleted, its via
// changed, or moved to another metric; a rule deleted; a sysctl flipped; a VXLAN's attributes changed; and foreign objects added next to ours (a link,
// possibly a port of our bridge; an address on our link; a static route, possibly at our
// prefix; a rule, possibly at our priority). Then:
// - `plan --detailed-exitcode` is 2 and names every drifted declared object, 0 when only
//   foreign objects were added, and never names a foreign object;
// - `apply` converges (the re-plan is empty), every declared object is there (`ip -j`), and
//   every foreign object is untouched, unless the plan said the kernel removes or releases it
//   with one of its changes;
// - `destroy` removes ours and leaves the foreign ones: the sandbox's namespaces are made
//   beforehand (so Voltron adopts them and leaves them); when Voltron made them, destroy deletes
//   them and must list the foreign objects in them.
// A link recreated behind Voltron's back is someone else's (docs/config.md, ownership by
// ifindex): a plan that declares it is refused, naming it; the test then deletes it as the
// message says. (When the kernel hands the old index out again it passes for Voltron's and is
// replaced.)
//
// DRIFT_SEED (default fixed) and DRIFT_RUNS (default 35) change the draw; DRIFT_SHRINK shrinks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { LinkRes, Resource, RouteRes } from '../../src/model/types';
import { VOLTRON_RTPROT } from '../../src/model/types';
import { Sandbox, editableSandbox } from '../support/sandbox';
import { choicesArb, desiredOf, render } from '../support/config-gen';

const SEED = Number(process.env['DRIFT_SEED'] ?? 20261122);
const RUNS = Number(process.env['DRIFT_RUNS'] ?? 35);

const DRIFTS = ['mtu', 'state', 'alias', 'mac', 'bropt', 'vnis', 'master', 'linkdel', 'recreate', 'rename', 'netns', 'addrdel', 'routedel', 'routevia', 'routemetric', 'ruledel', 'sysctl', 'vxlan', 'flink', 'faddr', 'froute', 'frule'] as const;
type DriftKind = (typeof DRIFTS)[number];
const driftArb = fc.record({ kind: fc.constantFrom(...DRIFTS), pick: fc.nat(99), variant: fc.boolean() });
type Drift = { kind: DriftKind; pick: number; variant: boolean };

/** A foreign object the test added: `marker` finds it in a plan's text; `snap` reads it ('' gone). */
interface Foreign {
  what: string;
  marker: RegExp;
  snap: () => string;
  before?: string;
}

interface Run {
  sb: Sandbox;
  desired: Map<string, Resource>;
  expect: Set<string>; // keys of drifted declared objects: the plan must name each
  recheck: Map<string, () => boolean>; // drifts a later one may undo: still drifted?
  foreign: Foreign[];
  recreated: { ns: string; name: string; sameIndex: boolean }[];
  log: string[];
  n: number;
}

const links = (r: Run) => [...r.desired.values()].filter((x): x is LinkRes => x.kind === 'link');
const of = <T extends Resource['kind']>(r: Run, kind: T) => [...r.desired.values()].filter((x) => x.kind === kind) as Extract<Resource, { kind: T }>[];
const pickOf = <T>(xs: readonly T[], pick: number): T | undefined => (xs.length ? xs[pick % xs.length] : undefined);
const linkKey = (l: { namespace: string; name: string }) => `link:${l.namespace}/${l.name}`;

function ipOut(sb: Sandbox, ns: string, args: string[]): any[] {
  try {
    const out = execFileSync('ip', ['-j', '-n', sb.ns(ns), ...args], { encoding: 'utf8', stdio: 'pipe' });
    return out.trim() ? JSON.parse(out) : [];
  } catch {
    return [];
  }
}
const liveLink = (r: Run, ns: string, name: string) => ipOut(r.sb, ns, ['-d', 'link', 'show', 'dev', name])[0];

/** Run `ip -n <ns> args`, logged; false (logged) when the kernel refuses. */
function ip(r: Run, ns: string, args: string[]): boolean {
  const line = `ip -n ${r.sb.ns(ns)} ${args.join(' ')}`;
  try {
    execFileSync('ip', ['-n', r.sb.ns(ns), ...args], { stdio: 'pipe' });
    r.log.push(line);
    return true;
  } catch (e) {
    r.log.push(`${line}  # refused: ${String((e as { stderr?: string }).stderr ?? e).trim()}`);
    return false;
  }
}

/** Run `bridge -n <ns> args`, logged like `ip`. */
function bridge(r: Run, ns: string, args: string[]): boolean {
  const line = `bridge -n ${r.sb.ns(ns)} ${args.join(' ')}`;
  try {
    execFileSync('bridge', ['-n', r.sb.ns(ns), ...args], { stdio: 'pipe' });
    r.log.push(line);
    return true;
  } catch (e) {
    r.log.push(`${line}  # refused: ${String((e as { stderr?: string }).stderr ?? e).trim()}`);
    return false;
  }
}

function routeSpec(x: RouteRes, metric = x.metric): string[] {
  const fam = x.family === 6 ? ['-6'] : [];
  return [...fam, 'route', '%', ...(x.type === 'unicast' ? [] : [x.type]), x.to, ...(x.via ? ['via', x.via] : []), ...(x.dev ? ['dev', x.dev] : []), 'table', String(x.table), 'metric', String(metric), ...(x.src ? ['src', x.src] : []), ...(x.mtu ? ['mtu', String(x.mtu)] : [])];
}
const routeCmd = (x: RouteRes, verb: string, extra: string[] = [], metric?: number) => routeSpec(x, metric).map((a) => (a === '%' ? verb : a)).concat(extra);

const ROUTE_LABEL = (x: { to: string; metric: number; table: number; family: number }) => `${x.to}${x.table !== 254 ? ` table ${x.table}` : ''}${x.metric !== (x.family === 6 ? 1024 : 0) ? ` metric ${x.metric}` : ''}`;

function routeSnap(r: Run, ns: string, fam: 4 | 6, to: string, table: number, metric: number): () => string {
  return () => {
    const all = ipOut(r.sb, ns, [`-${fam}`, 'route', 'show', 'table', String(table)]);
    const want = to === '0.0.0.0/0' ? 'default' : to.replace(/\/(32|128)$/, '');
    const hit = all.filter((x) => x.dst === want && (x.metric ?? 0) === metric);
    return hit.map((x) => `${x.type ?? 'unicast'} dev=${x.dev ?? '-'} via=${x.gateway ?? '-'} proto=${x.protocol} prefsrc=${x.prefsrc ?? '-'}`).join(';');
  };
}

/** One drift; returns a description for the log. */
function drift(r: Run, d: Drift): void {
  const n = ++r.n;
  const present = links(r).filter((l) => liveLink(r, l.namespace, l.name));
  switch (d.kind) {
    case 'mtu': {
      const l = pickOf(present.filter((x) => x.mtu !== undefined), d.pick);
      if (l && ip(r, l.namespace, ['link', 'set', 'dev', l.name, 'mtu', '1300'])) r.expect.add(linkKey(l));
      return;
    }
    case 'state': {
      const l = pickOf(present, d.pick);
      if (!l) return;
      const up = liveLink(r, l.namespace, l.name).flags.includes('UP');
      if ((l.state ?? 'up') === 'up' && up && ip(r, l.namespace, ['link', 'set', 'dev', l.name, 'down'])) r.expect.add(linkKey(l));
      if (l.state === 'down' && !up && ip(r, l.namespace, ['link', 'set', 'dev', l.name, 'up'])) r.expect.add(linkKey(l));
      return;
    }
    case 'alias': {
      const l = pickOf(present.filter((x) => x.alias !== undefined), d.pick);
      if (l && ip(r, l.namespace, ['link', 'set', 'dev', l.name, 'alias', `drifted${n}`])) r.expect.add(linkKey(l));
      return;
    }
    case 'mac': {
      const l = pickOf(present.filter((x) => x.mac !== undefined), d.pick);
      if (l && ip(r, l.namespace, ['link', 'set', 'dev', l.name, 'address', `02:00:00:00:01:${String(n).padStart(2, '0')}`])) r.expect.add(linkKey(l));
      return;
    }
    case 'bropt': {
      const l = pickOf(present.filter((x) => x.bridge?.ageingTime !== undefined || x.bridge?.forwardDelay !== undefined || x.bridge?.multicastSnooping !== undefined), d.pick);
      if (!l) return;
      const b = l.bridge!;
      const change =
        b.ageingTime !== undefined && (d.variant || (b.forwardDelay === undefined && b.multicastSnooping === undefined))
          ? ['ageing_time', '777']
          : b.forwardDelay !== undefined && (d.variant || b.multicastSnooping === undefined)
            ? ['forward_delay', b.forwardDelay === 1000 ? '1100' : '1000']
            : ['mcast_snooping', b.multicastSnooping ? '0' : '1'];
      if (ip(r, l.namespace, ['link', 'set', 'dev', l.name, 'type', 'bridge', ...change])) r.expect.add(linkKey(l));
      return;
    }
    case 'vnis': {
      const l = pickOf(present.filter((x) => x.vnis !== undefined), d.pick);
      if (!l) return;
      // One of ours removed, or a foreign one added (the filter is the declared set).
      const vni = d.variant ? String(l.vnis![0]![0]) : '9000';
      if (bridge(r, l.namespace, ['vni', d.variant ? 'del' : 'add', 'dev', l.name, 'vni', vni])) r.expect.add(linkKey(l));
      return;
    }
    case 'master': {
      const bridges = new Set(present.filter((x) => x.type === 'bridge').map((x) => `${x.namespace}/${x.name}`));
      const cands = present.filter((x) => x.master !== undefined || ((x.type === 'veth' || x.type === 'vxlan') && [...bridges].some((b) => b.startsWith(`${x.namespace}/`)) && x.vxlan?.dev === undefined));
      const l = pickOf(cands, d.pick);
      if (!l) return;
      const live = liveLink(r, l.namespace, l.name);
      // A later drift may undo this one (the bridge deleted releases its ports): checked at the end.
      const still = () => liveLink(r, l.namespace, l.name)?.master !== l.master;
      if (live.master !== undefined) {
        if (ip(r, l.namespace, ['link', 'set', 'dev', l.name, 'nomaster'])) r.recheck.set(linkKey(l), still);
      } else {
        const b = [...bridges].find((x) => x.startsWith(`${l.namespace}/`));
        if (b && l.master === undefined && ip(r, l.namespace, ['link', 'set', 'dev', l.name, 'master', b.split('/')[1]!])) r.recheck.set(linkKey(l), still);
      }
      return;
    }
    case 'linkdel': {
      const l = pickOf(present, d.pick);
      if (l && ip(r, l.namespace, ['link', 'del', 'dev', l.name])) r.expect.add(linkKey(l));
      return;
    }
    case 'recreate': {
      const l = pickOf(present, d.pick);
      const index = l && liveLink(r, l.namespace, l.name)?.ifindex;
      if (!l || !ip(r, l.namespace, ['link', 'del', 'dev', l.name])) return;
      r.expect.add(linkKey(l));
      // (This kernel has no dummy links: a veth pair stands for any other type.)
      const other = l.type === 'bridge' ? ['veth', 'peer', 'name', `${l.name}p`] : ['bridge'];
      if (ip(r, l.namespace, ['link', 'add', l.name, 'type', ...other])) r.recreated.push({ ns: l.namespace, name: l.name, sameIndex: liveLink(r, l.namespace, l.name)?.ifindex === index });
      return;
    }
    case 'rename':
    case 'netns': {
      // Ours under another name, or moved to another namespace: a foreign link now (its
      // attributes may follow ours leaving it, a bridge's MTU its ports': only its identity is kept).
      // Only veth ends move to another namespace: a moved VXLAN keeps its VNI in the old one
      // (the kernel registers it with its link netns) and a moved macvlan still goes with its
      // parent there; the plan models neither (known limitations, not yet handled).
      const l = pickOf(present.filter((x) => d.kind === 'rename' || x.type === 'veth'), d.pick);
      if (!l) return;
      const nss = [...new Set(['', ...of(r, 'namespace').map((x) => x.name)])].filter((x) => x !== l.namespace);
      const to = d.kind === 'netns' ? pickOf(nss, d.pick) : l.namespace;
      if (to === undefined) return;
      const name = d.kind === 'rename' ? `${l.name}r` : l.name;
      const args = d.kind === 'rename' ? ['name', name] : ['netns', r.sb.ns(to)];
      if (!ip(r, l.namespace, ['link', 'set', 'dev', l.name, ...args])) return;
      r.expect.add(linkKey(l));
      const snap = linkSnap(r, to, name);
      r.foreign.push({ what: `link ${nsLabel(to)}/${name} (was ${l.name})`, marker: new RegExp(`${esc(nsLabel(to))}/${name} `), snap: () => snap().split(' ').slice(0, 2).join(' ') });
      return;
    }
    case 'addrdel': {
      const a = pickOf(
        of(r, 'address').filter((x) => ipOut(r.sb, x.namespace, ['addr', 'show', 'dev', x.dev]).some((l) => (l.addr_info ?? []).some((i: { local: string; prefixlen: number }) => `${i.local}/${i.prefixlen}` === x.address))),
        d.pick,
      );
      if (a && ip(r, a.namespace, ['addr', 'del', a.address, 'dev', a.dev])) r.expect.add(`address:${a.namespace}/${a.dev}/${a.address}`);
      return;
    }
    case 'routedel':
    case 'routemetric': {
      const x = pickOf(of(r, 'route').filter((y) => routeSnap(r, y.namespace, y.family, y.to, y.table, y.metric)() !== ''), d.pick);
      if (!x || !ip(r, x.namespace, routeCmd(x, 'del', ['proto', String(VOLTRON_RTPROT)]))) return;
      r.expect.add(`route:${x.namespace}/ipv${x.family}/t${x.table}/${x.to}/m${x.metric}`);
      // Moved to another metric by hand: the kernel's route there is someone else's.
      if (d.kind === 'routemetric' && ip(r, x.namespace, routeCmd(x, 'add', ['proto', 'static'], 20))) {
        r.foreign.push({ what: `route ${x.to} metric 20`, marker: new RegExp(`${esc(x.to)}${x.table !== 254 ? ` table ${x.table}` : ''} metric 20\\b`), snap: routeSnap(r, x.namespace, x.family, x.to, x.table, 20) });
      }
      return;
    }
    case 'routevia': {
      const x = pickOf(of(r, 'route').filter((y) => y.via !== undefined && routeSnap(r, y.namespace, y.family, y.to, y.table, y.metric)() !== ''), d.pick);
      if (!x) return;
      const via = x.via!.includes(':') ? x.via!.replace(/[0-9a-f]+$/, 'fd') : x.via!.replace(/\d+$/, '253');
      if (ip(r, x.namespace, routeCmd({ ...x, via }, 'change', ['proto', String(VOLTRON_RTPROT)]))) r.expect.add(`route:${x.namespace}/ipv${x.family}/t${x.table}/${x.to}/m${x.metric}`);
      return;
    }
    case 'ruledel': {
      const x = pickOf(of(r, 'rule'), d.pick);
      if (x && ip(r, x.namespace, [`-${x.family}`, 'rule', 'del', 'priority', String(x.priority), 'protocol', String(VOLTRON_RTPROT)])) r.expect.add(`rule:${x.namespace}/ipv${x.family}/p${x.priority}`);
      return;
    }
    case 'sysctl': {
      const x = pickOf(of(r, 'sysctl'), d.pick);
      if (!x) return;
      const value = x.value === '1' ? '0' : '1';
      const w = r.sb.exec(x.namespace, ['sysctl', '-qw', `${x.key}=${value}`]);
      r.log.push(`ip netns exec ${r.sb.ns(x.namespace)} sysctl -w ${x.key}=${value}  # ${w.code}`);
      if (w.code === 0) r.expect.add(`sysctl:${x.namespace}/${x.key}`);
      return;
    }
    case 'vxlan': {
      const l = pickOf(present.filter((x) => x.type === 'vxlan' && !x.vxlan?.external), d.pick);
      if (!l) return;
      const v = l.vxlan!;
      const id = ['id', String(v.vni), 'dstport', String(v.dstport)];
      const change = d.variant && v.ttl !== undefined ? ['ttl', String(v.ttl === 9 ? 10 : 9)] : d.variant && v.remote !== undefined ? ['remote', '10.9.0.8'] : [v.learning === false ? 'learning' : 'nolearning'];
      if (ip(r, l.namespace, ['link', 'set', 'dev', l.name, 'type', 'vxlan', ...id, ...change])) r.expect.add(linkKey(l));
      return;
    }
    case 'flink': {
      const nss = [...new Set(['', ...of(r, 'namespace').map((x) => x.name)])];
      const ns = pickOf(nss, d.pick)!;
      const name = `fdr${n}`;
      if (!ip(r, ns, ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`])) return;
      // Next to ours: a port of our bridge.
      const br = present.find((x) => x.type === 'bridge' && x.namespace === ns);
      if (d.variant && br) ip(r, ns, ['link', 'set', 'dev', name, 'master', br.name]);
      r.foreign.push({ what: `link ${name}`, marker: new RegExp(`/${name} `), snap: linkSnap(r, ns, name) });
      return;
    }
    case 'faddr': {
      const l = pickOf(present.filter((x) => x.type !== 'veth' || liveLink(r, x.namespace, x.name)), d.pick);
      if (!l) return;
      const address = `10.77.${n}.1/24`;
      if (ip(r, l.namespace, ['addr', 'add', address, 'dev', l.name])) r.foreign.push({ what: `address ${l.name} ${address}`, marker: new RegExp(esc(address)), snap: addrSnap(r, l.namespace, l.name, address) });
      return;
    }
    case 'froute': {
      const nss = [...new Set(['', ...of(r, 'namespace').map((x) => x.name)])];
      const ns = pickOf(nss, d.pick)!;
      // Next to ours: our blackhole's prefix at another metric; else a prefix of its own.
      const to = d.variant ? (ns === '' ? '10.60.0.0/16' : '10.70.0.0/16') : `10.98.${n}.0/24`;
      const metric = 77;
      if (ip(r, ns, ['route', 'add', 'blackhole', to, 'metric', String(metric), 'proto', 'static'])) {
        r.foreign.push({ what: `route ${ns}/${to} metric ${metric}`, marker: new RegExp(`${esc(to)} metric ${metric}\\b`), snap: routeSnap(r, ns, 4, to, 254, metric) });
      }
      return;
    }
    case 'frule': {
      const nss = [...new Set(['', ...of(r, 'namespace').map((x) => x.name)])];
      const ns = pickOf(nss, d.pick)!;
      // Next to ours: at our rules' priority (100), or a priority of its own.
      const prio = d.variant ? 100 : 150 + n;
      const from = `10.88.${n}.0/24`;
      if (ip(r, ns, ['rule', 'add', 'priority', String(prio), 'from', from, 'table', '100', 'protocol', 'static'])) {
        r.foreign.push({ what: `rule ${ns} ${prio} from ${from}`, marker: new RegExp(`rule ${esc(nsLabel(ns))} ipv4 priority ${prio}(${prio === 100 ? '' : '$|'} \\(with)`), snap: ruleSnap(r, ns, prio, from) });
      }
      return;
    }
  }
}

const nsLabel = (ns: string) => (ns === '' ? '(root)' : ns);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function linkSnap(r: Run, ns: string, name: string): () => string {
  return () => {
    const l = liveLink(r, ns, name);
    return l ? `${l.ifindex} ${l.linkinfo?.info_kind} mtu=${l.mtu} up=${l.flags.includes('UP')} master=${l.master ?? '-'} mac=${l.address}` : '';
  };
}
function addrSnap(r: Run, ns: string, dev: string, address: string): () => string {
  return () => {
    const l = ipOut(r.sb, ns, ['addr', 'show', 'dev', dev])[0];
    return (l?.addr_info ?? []).some((i: { local: string; prefixlen: number }) => `${i.local}/${i.prefixlen}` === address) ? `${dev} ${address}` : '';
  };
}
function ruleSnap(r: Run, ns: string, prio: number, from: string): () => string {
  return () => {
    const hit = ipOut(r.sb, ns, ['rule', 'show']).filter((x) => x.priority === prio && `${x.src}/${x.srclen}` === from);
    return hit.map((x) => `${x.priority} ${x.src}/${x.srclen} table=${x.table} proto=${x.protocol}`).join(';');
  };
}

/** Every declared object is in the kernel (`ip -j`): links with mtu/master/state, addresses, routes, rules, sysctls. */
function checkOwned(r: Run, ctx: () => string): void {
  for (const x of r.desired.values()) {
    if (x.kind === 'link') {
      const l = liveLink(r, x.namespace, x.name);
      assert.ok(l, `link ${x.namespace}/${x.name} missing\n${ctx()}`);
      if (x.mtu !== undefined) assert.equal(l.mtu, x.mtu, `mtu of ${x.namespace}/${x.name}\n${ctx()}`);
      assert.equal(l.master, x.master, `master of ${x.namespace}/${x.name}\n${ctx()}`);
      assert.equal(l.flags.includes('UP'), (x.state ?? 'up') === 'up', `state of ${x.namespace}/${x.name}\n${ctx()}`);
      if (x.alias !== undefined) assert.equal(l.ifalias, x.alias, `alias of ${x.namespace}/${x.name}\n${ctx()}`);
      if (x.mac !== undefined) assert.equal(l.address, x.mac, `mac of ${x.namespace}/${x.name}\n${ctx()}`);
    } else if (x.kind === 'address') {
      assert.notEqual(addrSnap(r, x.namespace, x.dev, x.address)(), '', `address ${x.namespace}/${x.dev} ${x.address} missing\n${ctx()}`);
    } else if (x.kind === 'route') {
      const got = routeSnap(r, x.namespace, x.family, x.to, x.table, x.metric)();
      assert.match(got, new RegExp(`proto=${VOLTRON_RTPROT}|proto=[a-z]`), `route ${x.namespace} ${ROUTE_LABEL(x)} missing\n${ctx()}`);
      if (x.via) assert.match(got, new RegExp(`via=${esc(x.via)}`), `via of route ${ROUTE_LABEL(x)}\n${ctx()}`);
    } else if (x.kind === 'rule') {
      const got = ipOut(r.sb, x.namespace, [`-${x.family}`, 'rule', 'show']).filter((y) => y.priority === x.priority && String(y.protocol) === String(VOLTRON_RTPROT));
      assert.equal(got.length, 1, `rule ${x.namespace} ${x.priority} missing\n${ctx()}`);
    } else if (x.kind === 'sysctl') {
      const v = r.sb.exec(x.namespace, ['sysctl', '-n', x.key]).stdout.trim();
      assert.equal(v, x.value, `sysctl ${x.namespace} ${x.key}\n${ctx()}`);
    }
  }
}

interface PlanJson {
  changes: { action: string; key: string; label: string; fields: { field: string; after: unknown }[] }[];
  foreign_removed: string[];
  foreign_released: string[];
}

function planJson(r: Run, ctx: () => string): { code: number; plan?: PlanJson; out: string } {
  const p = r.sb.run(['plan', '-o', 'json', '--detailed-exitcode']);
  const out = p.stdout + p.stderr;
  if (p.code === 1) return { code: 1, out };
  assert.ok(p.code === 0 || p.code === 2, `plan: code ${p.code}\n${out}\n${ctx()}`);
  return { code: p.code, plan: JSON.parse(p.stdout) as PlanJson, out };
}

describe('drift behind Voltron\'s back is shown and repaired, foreign objects untouched (property, real kernel)', () => {
  it('over random configs and 1-4 random drifts', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-drift-'));
    const cfg = path.join(dir, 'net.yaml');
    let runs = 0;
    let drifted = 0;
    const kinds = new Map<string, number>();
    try {
      fc.assert(
        fc.property(choicesArb, fc.array(driftArb, { minLength: 1, maxLength: 4 }), fc.boolean(), (choices, drifts, adopt) => {
          const text = render(choices);
          const desired = desiredOf(text);
          if (!desired) return;
          fs.writeFileSync(cfg, text);
          const sb = new Sandbox('dr', dir);
          const r: Run = { sb, desired, expect: new Set(), recheck: new Map(), foreign: [], recreated: [], log: [`--- config (adopt=${adopt})\n${text}`], n: 0 };
          const ctx = () => r.log.join('\n');
          const nss = ['', ...of(r, 'namespace').map((x) => x.name).filter((x) => x !== '')];
          try {
            // Adopted: namespaces there before Voltron are not its to delete.
            if (adopt) for (const ns of nss) execFileSync('ip', ['netns', 'add', sb.ns(ns)]);
            const a = sb.run(['apply', '--auto-approve']);
            assert.equal(a.code, 0, `first apply\n${a.stdout}${a.stderr}\n${ctx()}`);
            for (const d of drifts) {
              drift(r, d);
              kinds.set(d.kind, (kinds.get(d.kind) ?? 0) + 1);
            }
            for (const [k, still] of r.recheck) if (still()) r.expect.add(k);
            // A later drift may have deleted (or renamed) a namesake made here: only those still
            // holding the name are refused.
            r.recreated = r.recreated.filter((x) => liveLink(r, x.ns, x.name) !== undefined);
            for (const f of r.foreign) f.before = f.snap();
            const held = r.foreign.filter((f) => f.before !== '');
            if (r.expect.size) drifted++;

            // plan: 2 and names every drifted object; 0 when only foreign ones were added.
            let p = planJson(r, ctx);
            let foreign = held;
            if (p.code === 1) {
              // Refused only for a namesake of a deleted link, or a VXLAN or macvlan renamed or
              // moved away holding our VNI, parent or MAC: delete them as the message says.
              const vniHolders = [...p.out.matchAll(/ip -n (\S+) link del (\S+); or declare another (?:vni|parent|mac)/g)];
              assert.ok(r.recreated.length > 0 || vniHolders.length > 0, `plan refused\n${p.out}\n${ctx()}`);
              // (One given its old index passes for Voltron's: replaced, not named.)
              for (const x of r.recreated) if (!x.sameIndex) assert.match(p.out, new RegExp(`${esc(x.name)}`), `refusal names ${x.name}\n${p.out}`);
              for (const x of r.recreated) ip(r, x.ns, ['link', 'del', 'dev', x.name]);
              for (const [, phys, name] of vniHolders) {
                ip(r, phys!.slice(sb.prefix.length).replace(/^root$/, ''), ['link', 'del', 'dev', name!]);
                foreign = foreign.filter((f) => !f.what.includes(`/${name} `));
              }
              // What went with the links deleted here is no longer the apply's to keep.
              foreign = foreign.filter((f) => f.snap() === f.before);
              p = planJson(r, ctx);
            }
            assert.ok(p.plan, `plan refused\n${p.out}\n${ctx()}`);
            const plan = p.plan!;
            assert.equal(p.code, r.expect.size ? 2 : 0, `plan exit code\n${p.out}\n${ctx()}`);
            const keys = new Set(plan.changes.map((c) => c.key));
            for (const k of r.expect) assert.ok(keys.has(k), `plan names ${k}\n${p.out}\n${ctx()}`);
            for (const f of foreign) for (const c of plan.changes) assert.doesNotMatch(c.label, f.marker, `the plan changes foreign ${f.what}\n${p.out}\n${ctx()}`);

            // apply converges; ours all there; foreign untouched unless the plan said the kernel takes it.
            const ap = sb.run(['apply', '--auto-approve']);
            assert.equal(ap.code, 0, `apply\n${ap.stdout}${ap.stderr}\n${ctx()}`);
            const again = sb.run(['plan', '--detailed-exitcode']);
            assert.equal(again.code, 0, `re-plan not empty\n${again.stdout}${again.stderr}\n${ctx()}`);
            checkOwned(r, ctx);
            const warned = [...plan.foreign_removed, ...plan.foreign_released];
            for (const f of foreign) {
              if (warned.some((w) => f.marker.test(w))) continue;
              assert.equal(f.snap(), f.before, `foreign ${f.what} touched by apply\n${ap.stdout}\n${ctx()}`);
            }

            // destroy: ours gone; foreign left (adopted namespaces), or listed with the namespace.
            const kept = foreign.filter((f) => f.snap() !== '');
            const de = sb.run(['destroy', '--auto-approve']);
            assert.equal(de.code, 0, `destroy\n${de.stdout}${de.stderr}\n${ctx()}`);
            if (adopt) {
              // Unless destroy's warnings say the kernel removes or releases it with one of ours.
              for (const f of kept) if (!f.marker.test(de.stdout)) assert.equal(f.snap(), f.before, `destroy touched foreign ${f.what}\n${de.stdout}\n${ctx()}`);
              for (const ns of nss) {
                const ours = ipOut(sb, ns, ['link', 'show']).filter((l) => links(r).some((x) => x.namespace === ns && x.name === l.ifname));
                assert.deepEqual(ours.map((l) => l.ifname), [], `destroy left links in ${ns || 'root'}\n${de.stdout}\n${ctx()}`);
                for (const what of ['route', 'rule'] as const) {
                  const all = what === 'route' ? ['table', 'all'] : [];
                  const left = [...ipOut(sb, ns, ['-4', what, 'show', ...all]), ...ipOut(sb, ns, ['-6', what, 'show', ...all])].filter((x) => String(x.protocol) === String(VOLTRON_RTPROT));
                  assert.deepEqual(left, [], `destroy left ${what}s in ${ns || 'root'}\n${de.stdout}\n${ctx()}`);
                }
              }
            } else {
              assert.deepEqual(sb.namespaces(), [], `destroy left namespaces\n${ctx()}`);
              for (const f of kept) assert.match(de.stdout, f.marker, `destroy does not list foreign ${f.what} going with its namespace\n${de.stdout}\n${ctx()}`);
            }
            runs++;
          } finally {
            sb.cleanup();
          }
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: process.env['DRIFT_SHRINK'] === undefined },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    console.log(`drift: ${runs} runs, ${drifted} with a declared object drifted; drifts drawn: ${[...kinds].map(([k, v]) => `${k}=${v}`).join(' ')}`);
    assert.ok(runs >= RUNS / 2, `too few valid configs (${runs} of ${RUNS})`);
  });
});

// Deterministic cases for what the property found.
describe('drift found by the property, deterministic (real kernel)', () => {
  it('a veth primary renamed behind its back: one apply brings the pair back with its other end\'s attributes', () => {
    const { sb } = editableSandbox('drren', 'namespaces:\n  - { name: na }\nlinks:\n  - { name: br0, type: bridge }\n  - { name: va0, type: veth, master: br0, peer: { name: vb0, namespace: na, mtu: 1400, alias: far } }\naddresses:\n  - { address: 10.2.0.2/24, dev: vb0, namespace: na }\n');
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    sb.ip('', ['link', 'set', 'dev', 'va0', 'name', 'vr0']);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 2, p.stdout + p.stderr);
    assert.match(p.stdout, /link \(root\)\/vr0 \(veth\) \(with link na\/vb0 \(veth\)\)/); // the foreign end goes with ours: said
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    const [vb0] = sb.ipj('na', ['link', 'show', 'dev', 'vb0']);
    assert.equal(vb0.mtu, 1400);
    assert.equal(vb0.ifalias, 'far');
    assert.ok(vb0.flags.includes('UP'));
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('a foreign VXLAN holding a declared VNI (ours renamed by hand): plan refuses, naming it, before any write', () => {
    const { sb } = editableSandbox('drvni', 'links:\n  - { name: vx0, type: vxlan, vxlan: { vni: 100, dstport: 4789 } }\n  - { name: vx1, type: vxlan, vxlan: { external: true, vnifilter: true, dstport: 4790 }, vnis: [100, "200-201"] }\n');
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    sb.ip('', ['link', 'set', 'dev', 'vx0', 'name', 'vx0r']);
    sb.ip('', ['link', 'set', 'dev', 'vx1', 'name', 'vx1r']);
    for (const cmd of ['plan', 'apply']) {
      const p = sb.run(cmd === 'plan' ? ['plan', '--detailed-exitcode'] : ['apply', '--auto-approve']);
      assert.equal(p.code, 1, p.stdout + p.stderr);
      assert.match(p.stderr, /link \(root\)\/vx0 \(vxlan\): VNI 100 on dstport 4789 is taken in namespace \(root\) by link \(root\)\/vx0r \(vxlan\), which Voltron did not create.*ip -n \S+ link del vx0r/);
      assert.match(p.stderr, /link \(root\)\/vx1 \(vxlan\): VNI 100, 200-201 on dstport 4790 is taken .* by link \(root\)\/vx1r/);
      assert.doesNotMatch(p.stdout, /created:/);
    }
    sb.ip('', ['link', 'del', 'dev', 'vx0r']);
    sb.ip('', ['link', 'del', 'dev', 'vx1r']);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('a foreign macvlan up with the declared MAC of ours on its parent (ours renamed by hand): plan refuses, naming it', () => {
    // The kernel refused the create mid-apply (EADDRINUSE: the MAC is busy on the parent).
    const { sb } = editableSandbox('drmac', 'links:\n  - { name: va0, type: veth, peer: { name: vb0 } }\n  - { name: mv0, type: macvlan, mac: "02:00:00:00:00:c1", macvlan: { parent: va0, mode: bridge } }\n');
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    sb.ip('', ['link', 'set', 'dev', 'mv0', 'name', 'mv0r']);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /link \(root\)\/mv0 \(macvlan\): MAC address 02:00:00:00:00:c1 is that of link \(root\)\/mv0r \(macvlan\), which Voltron did not create, up on the same parent va0.*ip -n \S+ link del mv0r/);
    sb.ip('', ['link', 'del', 'dev', 'mv0r']);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });

  it('a foreign macvlan on the parent of a declared passthru one (ours renamed by hand): plan refuses, naming it', () => {
    const { sb } = editableSandbox('drpt', 'links:\n  - { name: va0, type: veth, peer: { name: vb0 } }\n  - { name: mv0, type: macvlan, macvlan: { parent: va0, mode: passthru } }\n');
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    sb.ip('', ['link', 'set', 'dev', 'mv0', 'name', 'mv0r']);
    const p = sb.run(['plan', '--detailed-exitcode']);
    assert.equal(p.code, 1, p.stdout + p.stderr);
    assert.match(p.stderr, /link \(root\)\/mv0 \(macvlan\): link \(root\)\/mv0r \(macvlan\) \(passthru\), which Voltron did not create, is on its parent va0.*ip -n \S+ link del mv0r/);
    sb.ip('', ['link', 'del', 'dev', 'mv0r']);
    assert.equal(sb.run(['apply', '--auto-approve']).code, 0);
    assert.equal(sb.run(['plan', '--detailed-exitcode']).code, 0);
  });
});
