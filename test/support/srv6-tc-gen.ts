// A generator of random SRv6 and tc configs for the real-kernel agreement test
// (test/kernel/agreement-srv6-tc.property.test.ts): a small fixed skeleton (a veth pair va0 in
// the sandbox root, vb0 in the declared namespace `na`, IPv4/IPv6 addresses on both ends) and
// random SRv6 (tunsrc, an SRH pool with a binding SID, seg6 routes inline and from the pool,
// seg6local SIDs with every action the kernel takes without a VRF, seg6_enabled sysctls) and tc
// (root qdiscs htb/tbf/pfifo (this kernel has no fq/fq_codel), htb classes, a child qdisc under a class, clsact) on top.
// Not every draw is valid: `desiredOf` (test/support/config-gen.ts) keeps what the loader accepts.
import fc from 'fast-check';
import type { Seg6LocalAction } from '../../src/model/types';

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });

/** The actions drawn: those this kernel accepts without a VRF. */
type Local = Extract<Seg6LocalAction, 'End' | 'End.X' | 'End.T' | 'End.DX2' | 'End.DX4' | 'End.DX6' | 'End.DT6' | 'End.B6' | 'End.B6.Encaps'>;
const LOCAL_ACTIONS: readonly Local[] = ['End', 'End.X', 'End.T', 'End.DX2', 'End.DX4', 'End.DX6', 'End.DT6', 'End.B6', 'End.B6.Encaps'];

const SEGS = [
  ['fc00:1::e', '2001:db8:21::2'],
  ['fc00:2::e', 'fc00:1::e', '2001:db8:21::2'],
  ['fc00:3::e'],
] as const;

export interface SrTcChoices {
  na: boolean; // false: no declared namespace, what lives in `na` lives in the sandbox root
  tunsrcNa?: 0 | 1; // index into TUNSRC (without na: the root namespace's, a top-level seg6)
  seg6Sysctl?: 0 | 1; // na: net.ipv6.conf.all.seg6_enabled (+ default)
  pool?: { aSegs: 0 | 1 | 2; bSegs: 0 | 1 | 2; aMtu?: number; bsid?: 'a' | 'b'; bsidDev: boolean };
  // Root: an IPv6 encap route (inline segments or from the pool), an IPv4 one over SRv6.
  r6?: { from: 'inline' | 'a' | 'b'; segs: 0 | 1 | 2; mode: 'encap' | 'inline'; mtu?: number; metric?: number; via: boolean; noDev: boolean; table: boolean };
  r4?: { segs: 0 | 1 | 2; mtu?: number };
  // na: two SIDs.
  sid1?: { action: Local; segs: 0 | 1 | 2; table: boolean };
  sid2?: { action: Local; segs: 0 | 1 | 2; table: number };
  // tc on va0 (root) and vb0 (na).
  qa?: { kind: 'htb' | 'tbf' | 'pfifo'; def: number; r2q?: number; rate: string; burst: string; latency?: string; limit: number; peak: boolean };
  classes: ({ rate: string; ceil?: string } | undefined)[]; // 1:1, 1:10 (parent 1:1 if any), 1:20
  child?: { kind: 'pfifo' | 'tbf'; limit: number; rate: string };
  clsactA: boolean;
  qb?: { kind: 'tbf' | 'pfifo' | 'htb'; rate: string; limit: number; target?: string };
  clsactB: boolean;
}

const TUNSRC = ['2001:db8:1::1', '2001:db8:9::9'] as const;
const rate = fc.constantFrom('10mbit', '100mbit', '1gbit');

export const srTcArb: fc.Arbitrary<SrTcChoices> = fc.record(
  {
    na: fc.nat(99).map((x) => x < 85),
    tunsrcNa: opt(fc.constantFrom<0 | 1>(0, 1)),
    seg6Sysctl: opt(fc.constantFrom<0 | 1>(0, 1)),
    pool: opt(
      fc.record(
        { aSegs: fc.constantFrom<0 | 1 | 2>(0, 1, 2), bSegs: fc.constantFrom<0 | 1 | 2>(0, 1, 2), aMtu: opt(fc.constantFrom(1300, 1400)), bsid: opt(fc.constantFrom<'a' | 'b'>('a', 'b')), bsidDev: fc.boolean() },
        { requiredKeys: ['aSegs', 'bSegs', 'bsidDev'] },
      ),
    ),
    r6: opt(
      fc.record(
        { from: fc.constantFrom<'inline' | 'a' | 'b'>('inline', 'a', 'b'), segs: fc.constantFrom<0 | 1 | 2>(0, 1, 2), mode: fc.constantFrom<'encap' | 'inline'>('encap', 'inline'), mtu: opt(fc.constantFrom(1280, 1400)), metric: opt(fc.constantFrom(10, 1024)), via: fc.boolean(), noDev: fc.boolean(), table: fc.boolean() },
        { requiredKeys: ['from', 'segs', 'mode', 'via', 'noDev', 'table'] },
      ),
    ),
    r4: opt(fc.record({ segs: fc.constantFrom<0 | 1 | 2>(0, 1, 2), mtu: opt(fc.constantFrom(1300, 1400)) }, { requiredKeys: ['segs'] })),
    sid1: opt(fc.record({ action: fc.constantFrom(...LOCAL_ACTIONS), segs: fc.constantFrom<0 | 1 | 2>(0, 1, 2), table: fc.boolean() })),
    sid2: opt(fc.record({ action: fc.constantFrom(...LOCAL_ACTIONS), segs: fc.constantFrom<0 | 1 | 2>(0, 1, 2), table: fc.constantFrom(100, 200) })),
    qa: opt(
      fc.record(
        {
          kind: fc.constantFrom<'htb' | 'tbf' | 'pfifo'>('htb', 'tbf', 'pfifo'),
          def: fc.constantFrom(0, 0x10, 0x20),
          r2q: opt(fc.constantFrom(5, 10)),
          rate,
          burst: fc.constantFrom('32kb', '64kb'),
          latency: opt(fc.constantFrom('50ms', '100ms')),
          limit: fc.constantFrom(100, 1000),
          peak: fc.boolean(),
        },
        { requiredKeys: ['kind', 'def', 'rate', 'burst', 'limit', 'peak'] },
      ),
    ),
    classes: fc.array(opt(fc.record({ rate, ceil: opt(fc.constantFrom('1gbit', '2gbit')) }, { requiredKeys: ['rate'] })), { minLength: 3, maxLength: 3 }),
    child: opt(fc.record({ kind: fc.constantFrom<'pfifo' | 'tbf'>('pfifo', 'tbf'), limit: fc.constantFrom(50, 500), rate })),
    clsactA: fc.boolean(),
    qb: opt(
      fc.record(
        { kind: fc.constantFrom<'tbf' | 'pfifo' | 'htb'>('tbf', 'pfifo', 'htb'), rate, limit: fc.constantFrom(100, 1000), target: opt(fc.constantFrom('5ms', '10ms')) },
        { requiredKeys: ['kind', 'rate', 'limit'] },
      ),
    ),
    clsactB: fc.boolean(),
  },
  { requiredKeys: ['na', 'classes', 'clsactA', 'clsactB'] },
);

type Obj = Record<string, unknown>;
const strip = (o: Obj): Obj => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

function localEncap(action: Local, segs: 0 | 1 | 2, table: number): Obj {
  switch (action) {
    case 'End.X':
    case 'End.DX6':
      return { type: 'seg6local', action, nh6: '2001:db8:1::1' };
    case 'End.DX4':
      return { type: 'seg6local', action, nh4: '10.1.0.1' };
    case 'End.T':
    case 'End.DT6':
      return { type: 'seg6local', action, table };
    case 'End.DX2':
      return { type: 'seg6local', action, oif: 'vb0' };
    case 'End.B6':
    case 'End.B6.Encaps':
      return { type: 'seg6local', action, segments: [...SEGS[segs]] };
    default:
      return { type: 'seg6local', action };
  }
}

/** The config (as JSON, which is YAML) for one set of choices. */
export function renderSrTc(c: SrTcChoices): string {
  const root: Obj = strip({ name: 'na', sysctls: undefined as unknown });
  const nsList: Obj[] = [root];
  if (c.tunsrcNa !== undefined) root['seg6'] = { tunsrc: TUNSRC[c.tunsrcNa] };
  if (c.seg6Sysctl !== undefined) root['sysctls'] = { 'net.ipv6.conf.all.seg6_enabled': c.seg6Sysctl, 'net.ipv6.conf.default.seg6_enabled': c.seg6Sysctl };
  const links = [{ name: 'va0', type: 'veth', peer: { name: 'vb0', namespace: 'na' } }];
  const addresses = [
    { address: '2001:db8:1::1/64', dev: 'va0' },
    { address: '10.1.0.1/24', dev: 'va0' },
    { address: '2001:db8:1::2/64', dev: 'vb0', namespace: 'na' },
    { address: '10.1.0.2/24', dev: 'vb0', namespace: 'na' },
  ];
  const cfg: Obj = { namespaces: nsList, links, addresses };

  const routes: Obj[] = [];
  if (c.pool) {
    const p = c.pool;
    const paths: Obj = { a: strip({ segments: [...SEGS[p.aSegs]], mtu: p.aMtu }), b: { segments: [...SEGS[p.bSegs]] } };
    const pool: Obj = { paths };
    if (p.bsid) pool['bsids'] = { [p.bsid]: strip({ sid: 'fc00:ff::2', namespace: 'na', dev: p.bsidDev ? 'vb0' : undefined }) };
    cfg['srv6'] = { pools: { p: pool } };
  }
  if (c.r6) {
    const r = c.r6;
    const base = { to: '2001:db8:21::/64', dev: r.via && r.noDev ? undefined : 'va0', via: r.via ? '2001:db8:1::2' : undefined, mtu: r.mtu, metric: r.metric, table: r.table ? 100 : undefined };
    // A pool path needs the pool: without one the route is inline.
    if (r.from === 'inline' || !c.pool) routes.push(strip({ ...base, encap: { type: 'seg6', mode: r.mode, segments: [...SEGS[r.segs]] } }));
    else routes.push(strip({ ...base, srv6: strip({ pool: 'p', path: r.from, mode: r.mode === 'encap' ? undefined : r.mode }) }));
  }
  if (c.r4) routes.push(strip({ to: '10.21.0.0/16', dev: 'va0', mtu: c.r4.mtu, encap: { type: 'seg6', mode: 'encap', segments: [...SEGS[c.r4.segs]] } }));
  if (c.sid1) routes.push(strip({ namespace: 'na', to: 'fc00:1::e/128', dev: 'vb0', table: c.sid1.table ? 100 : undefined, encap: localEncap(c.sid1.action, c.sid1.segs, 100) }));
  if (c.sid2) routes.push({ namespace: 'na', to: 'fc00:1::7/128', dev: 'vb0', encap: localEncap(c.sid2.action, c.sid2.segs, c.sid2.table) });
  if (routes.length) cfg['routes'] = routes;

  const qdiscs: Obj[] = [];
  const classes: Obj[] = [];
  if (c.qa) {
    const q = c.qa;
    if (q.kind === 'htb') {
      qdiscs.push(strip({ dev: 'va0', parent: 'root', handle: '1:', kind: 'htb', default: q.def ? q.def.toString(16) : undefined, r2q: q.r2q }));
      const [c1, c10, c20] = c.classes;
      if (c1) classes.push(strip({ dev: 'va0', classid: '1:1', rate: c1.rate, ceil: c1.ceil }));
      if (c10) classes.push(strip({ dev: 'va0', classid: '1:10', parent: c1 ? '1:1' : undefined, rate: c10.rate, ceil: c10.ceil }));
      if (c20) classes.push(strip({ dev: 'va0', classid: '1:20', rate: c20.rate, ceil: c20.ceil }));
      if (c.child && c10) {
        const ch = c.child;
        qdiscs.push(ch.kind === 'pfifo' ? { dev: 'va0', parent: '1:10', handle: '10:', kind: 'pfifo', limit: ch.limit } : { dev: 'va0', parent: '1:10', handle: '10:', kind: 'tbf', rate: ch.rate, burst: '32kb', latency: '50ms' });
      }
    } else if (q.kind === 'tbf') {
      const peak = q.peak && q.rate !== '1gbit' ? { peakrate: '2gbit', mtu: 2000 } : {};
      qdiscs.push(strip({ dev: 'va0', parent: 'root', kind: 'tbf', rate: q.rate, burst: q.burst, latency: q.latency, limit: q.latency ? undefined : q.limit * 1500, ...peak }));
    } else {
      qdiscs.push({ dev: 'va0', parent: 'root', kind: 'pfifo', limit: q.limit });
    }
  }
  if (c.clsactA) qdiscs.push({ dev: 'va0', kind: 'clsact' });
  if (c.qb) {
    const q = c.qb;
    if (q.kind === 'tbf') qdiscs.push({ namespace: 'na', dev: 'vb0', parent: 'root', kind: 'tbf', rate: q.rate, burst: '32kb', latency: '50ms' });
    else if (q.kind === 'pfifo') qdiscs.push({ namespace: 'na', dev: 'vb0', parent: 'root', kind: 'pfifo', limit: q.limit });
    else {
      qdiscs.push(strip({ namespace: 'na', dev: 'vb0', parent: 'root', handle: q.target ? '2:' : '3:', kind: 'htb', default: q.target ? '20' : undefined }));
      // One class whose major follows the qdisc's handle (a handle change takes it along).
      classes.push({ namespace: 'na', dev: 'vb0', classid: q.target ? '2:20' : '3:20', rate: q.rate });
    }
  }
  if (c.clsactB) qdiscs.push({ namespace: 'na', dev: 'vb0', kind: 'clsact' });
  if (qdiscs.length) cfg['qdiscs'] = qdiscs;
  if (classes.length) cfg['classes'] = classes;
  if (!c.na) intoRoot(cfg);
  return `${JSON.stringify(cfg, null, 1)}\n`;
}

/** Without `na`: its objects live in the sandbox root (its seg6 sysctls and tunsrc too: top-level keys). */
function intoRoot(cfg: Obj): void {
  const na = (cfg['namespaces'] as Obj[])[0]!;
  delete cfg['namespaces'];
  if (na['sysctls']) cfg['sysctls'] = na['sysctls'];
  if (na['seg6']) cfg['seg6'] = na['seg6'];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) {
      const o = v as Obj;
      if (o['namespace'] === 'na') delete o['namespace'];
      Object.values(o).forEach(walk);
    }
  };
  walk(cfg);
}
