// qdiscs, classes and filters → QdiscRes / TcClassRes / TcFilterRes.
import type { QdiscKind, QdiscRes, TcClassRes, TcFilterRes } from '../model/types';
import { nsLabel } from '../model/keys';
import { nsOf } from './common';
import { compact, type Ctx } from './ctx';
import { qdiscParent } from './identity';
import { isPoisoned } from './merge';
import { parseClassId, parseHandle, parseRate, parseSize, parseTime } from './units';
import type { Entry, Raw } from './types';

type Unit = 'count' | 'rate' | 'size' | 'time' | 'hex' | 'bool';

/** Options each qdisc kind takes and how to read them; model option values keep these names. */
const QDISC_OPTIONS: Record<QdiscKind, Record<string, Unit>> = {
  pfifo: { limit: 'count' },
  htb: { default: 'hex', r2q: 'count' },
  tbf: { rate: 'rate', burst: 'size', latency: 'time', limit: 'size', peakrate: 'rate', mtu: 'count' },
  clsact: {},
  fq: { limit: 'count', flow_limit: 'count', quantum: 'size', maxrate: 'rate' },
  fq_codel: { limit: 'count', flows: 'count', target: 'time', interval: 'time', quantum: 'size', ecn: 'bool' },
};
const COMMON = new Set(['namespace', 'dev', 'parent', 'handle', 'kind', 'state']);
const UNIT_HINT: Record<Unit, string> = {
  count: 'a count',
  rate: "a rate like '10mbit'",
  size: "a size like '32kb'",
  time: "a time like '50ms'",
  hex: "a class minor like '10'",
  bool: 'a boolean',
};

function option(unit: Unit, v: unknown): number | undefined {
  switch (unit) {
    case 'count':
      return typeof v === 'number' ? v : undefined; // tbf's limit is a size; elsewhere a packet count
    case 'rate':
      return parseRate(String(v));
    case 'size':
      return parseSize(v as string | number);
    case 'time':
      return parseTime(v as string | number);
    case 'hex':
      return /^[0-9a-fA-F]{1,4}$/.test(String(v)) ? parseInt(String(v), 16) : undefined;
    case 'bool':
      return v ? 1 : 0;
  }
}

const devKey = (ns: string, dev: string): string => `${ns}/${dev}`;

export interface TcResult {
  qdiscs: QdiscRes[];
  classes: TcClassRes[];
  filters: TcFilterRes[];
}

export function normaliseTc(ctx: Ctx, qd: readonly Entry[], cl: readonly Entry[], fl: readonly Entry[], programs: ReadonlySet<string>): TcResult {
  const tcPoisoned = ctx.poison.all || ctx.poison.kinds.has('qdiscs') || ctx.poison.kinds.has('classes');
  const qdiscs: QdiscRes[] = [];
  const underClass: { e: Entry; ns: string; dev: string; parent: string }[] = []; // qdiscs whose parent is a class
  const htbHandles = new Set<string>(); // `${ns}/${dev}/${handle}`
  const clsact = new Set<string>();
  const handles = new Map<string, Entry>();
  for (const e of qd) {
    const v = e.value;
    const ns = nsOf(v);
    ctx.nsRef(ns, e, 'namespace');
    ctx.devRef(ns, v.dev, e, 'dev', 'qdisc dev');
    const kind = v.kind as QdiscKind;
    const parent = qdiscParent(v);
    if (kind === 'clsact') {
      if (v.parent !== undefined && v.parent !== 'clsact') ctx.err(e, 'parent', `a clsact qdisc takes no parent`);
      if (v.handle !== undefined) ctx.err(e, 'handle', `a clsact qdisc takes no handle`);
      clsact.add(devKey(ns, v.dev));
    } else if (v.parent === 'clsact' || (parent !== 'root' && !parseClassId(parent))) {
      ctx.err(e, 'parent', `bad parent '${v.parent}': expected 'root' or a class id like '1:10'`);
    } else if (parent !== 'root') {
      underClass.push({ e, ns, dev: v.dev, parent });
    }
    let handle: string | undefined;
    if (v.handle !== undefined && kind !== 'clsact') {
      handle = parseHandle(v.handle);
      if (!handle) ctx.err(e, 'handle', `bad handle '${v.handle}': expected a major number like '1:'`);
      else {
        const hk = `${devKey(ns, v.dev)}/${handle}`;
        const prev = handles.get(hk);
        if (prev) ctx.err(e, 'handle', `handle ${handle} is already used on ${nsLabel(ns)}/${v.dev} (${ctx.where(prev)})`);
        handles.set(hk, e);
        if (kind === 'htb') htbHandles.add(hk);
      }
    }
    if (kind === 'htb' && v.handle === undefined) ctx.err(e, '', `an htb qdisc needs 'handle' (its classes refer to it)`);
    const allowed = QDISC_OPTIONS[kind];
    const options: Record<string, number> = {};
    for (const [k, raw] of Object.entries<Raw>(v)) {
      if (COMMON.has(k)) continue;
      const unit = allowed[k];
      if (!unit) {
        ctx.err(e, k, `'${k}' is not an option of qdisc kind ${kind}`, true);
        continue;
      }
      const n = option(unit, raw);
      if (n === undefined) ctx.err(e, k, `bad ${k} '${raw}': expected ${UNIT_HINT[unit]}`);
      else options[k] = n;
    }
    if (kind === 'tbf') {
      for (const k of ['rate', 'burst']) if (v[k] === undefined) ctx.err(e, '', `a tbf qdisc needs '${k}'`);
      if ((v.latency === undefined) === (v.limit === undefined)) ctx.err(e, '', `a tbf qdisc needs exactly one of 'latency' and 'limit'`);
      // The kernel keeps mtu only with a peak rate (and needs it then).
      if (v.peakrate !== undefined && v.mtu === undefined) ctx.err(e, 'peakrate', `'peakrate' needs 'mtu'`, true);
      if (v.mtu !== undefined && v.peakrate === undefined) ctx.err(e, 'mtu', `'mtu' only applies together with 'peakrate'`, true);
    }
    qdiscs.push(compact({ kind: 'qdisc', namespace: ns, dev: v.dev, parent, handle, qdisc: kind, options, source: ctx.source(e) }));
  }

  const classes: TcClassRes[] = [];
  const classIds = new Map<string, { e: Entry; parent?: string }>(); // `${ns}/${dev}/${classid}`
  for (const e of cl) {
    const v = e.value;
    const id = parseClassId(v.classid);
    if (id) classIds.set(`${devKey(nsOf(v), v.dev)}/${id}`, { e });
  }
  for (const e of cl) {
    const v = e.value;
    const ns = nsOf(v);
    const dk = devKey(ns, v.dev);
    ctx.nsRef(ns, e, 'namespace');
    ctx.devRef(ns, v.dev, e, 'dev', 'class dev');
    const classid = parseClassId(v.classid);
    if (!classid) {
      ctx.err(e, 'classid', `bad classid '${v.classid}': expected major:minor like '1:10' (minor not 0)`);
      continue;
    }
    const major = classid.split(':')[0]!;
    let parent = `${major}:`;
    if (v.parent !== undefined) {
      const p = parseHandle(v.parent) ?? parseClassId(v.parent);
      if (!p) ctx.err(e, 'parent', `bad parent '${v.parent}': expected a qdisc handle like '1:' or a class id like '1:1'`);
      else {
        if (p.split(':')[0] !== major) ctx.err(e, 'parent', `parent '${p}' is not under qdisc ${major}: of class ${classid}`);
        else if (p === classid) ctx.err(e, 'parent', `class ${classid} cannot be its own parent`);
        else if (!p.endsWith(':') && !classIds.has(`${dk}/${p}`) && !tcPoisoned)
          ctx.err(e, 'parent', `parent class '${p}' is not declared on ${nsLabel(ns)}/${v.dev}`);
        // Not kept when it is the class itself: reported above, not once more as a cycle.
        if (p !== classid) parent = p;
      }
    }
    classIds.get(`${dk}/${classid}`)!.parent = parent;
    if (!htbHandles.has(`${dk}/${major}:`) && !tcPoisoned)
      ctx.err(e, 'classid', `no htb qdisc with handle ${major}: is declared on ${nsLabel(ns)}/${v.dev}`);
    const rate = parseRate(v.rate);
    if (rate === undefined) ctx.err(e, 'rate', `bad rate '${v.rate}': expected a rate like '10mbit'`);
    let ceil: number | undefined;
    if (v.ceil !== undefined) {
      ceil = parseRate(v.ceil);
      if (ceil === undefined) ctx.err(e, 'ceil', `bad rate '${v.ceil}': expected a rate like '100mbit'`);
      else if (rate !== undefined && ceil < rate) ctx.err(e, 'ceil', `ceil ${v.ceil} is below rate ${v.rate}`);
    }
    classes.push(compact({ kind: 'tclass', namespace: ns, dev: v.dev, classid, parent, rate: rate ?? 0, ceil, source: ctx.source(e) }));
  }
  classCycles(ctx, classIds);
  for (const q of underClass)
    if (!classIds.has(`${devKey(q.ns, q.dev)}/${q.parent}`) && !tcPoisoned)
      ctx.err(q.e, 'parent', `parent class '${q.parent}' is not declared on ${nsLabel(q.ns)}/${q.dev}`);

  const filters: TcFilterRes[] = [];
  for (const e of fl) {
    const v = e.value;
    const ns = nsOf(v);
    ctx.nsRef(ns, e, 'namespace');
    const devOk = ctx.devRef(ns, v.dev, e, 'dev', 'filter dev');
    if (!v.program.includes(':') && !programs.has(v.program) && !isPoisoned(ctx.poison, 'programs', v.program))
      ctx.err(e, 'program', `bpf program '${v.program}' is not declared in bpf.programs`);
    if (devOk && !clsact.has(devKey(ns, v.dev)) && !tcPoisoned)
      ctx.err(e, 'dev', `a filter needs a clsact qdisc on ${nsLabel(ns)}/${v.dev} (add { dev: ${v.dev}, kind: clsact } to qdiscs)`);
    filters.push({ kind: 'tfilter', namespace: ns, dev: v.dev, direction: v.direction, priority: v.priority, program: v.program, source: ctx.source(e) });
  }
  return { qdiscs, classes, filters };
}

function classCycles(ctx: Ctx, ids: ReadonlyMap<string, { e: Entry; parent?: string }>): void {
  const reported = new Set<string>();
  for (const [key, c] of ids) {
    const seen = new Set<string>([key]);
    let cur = c;
    const dev = key.slice(0, key.lastIndexOf('/'));
    while (cur.parent && !cur.parent.endsWith(':')) {
      const next = `${dev}/${cur.parent}`;
      if (seen.has(next)) {
        if (next === key && !reported.has(key)) {
          [...seen].forEach((k) => reported.add(k));
          ctx.err(c.e, 'parent', `class parent cycle through ${[...seen].map((k) => k.split('/').pop()).join(' -> ')}`);
        }
        break;
      }
      seen.add(next);
      const n = ids.get(next);
      if (!n) break;
      cur = n;
    }
  }
}
