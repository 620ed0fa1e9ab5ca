// namespaces (+ their sysctls and seg6 tunsrc), root sysctls and seg6 tunsrc, and bpf programs.
import * as path from 'node:path';
import { canonicalIp, ipFamily, isMulticastIp, whyNotIp } from '../model/net';
import type { BpfAttach, BpfProgramRes, NamespaceRes, Seg6TunsrcRes, SysctlRes } from '../model/types';
import { compact, type Ctx } from './ctx';
import { ptrJoin, type Entry, type Raw } from './types';

/** Registers declared namespaces in ctx; call before anything that references them. */
export function normaliseNamespaces(ctx: Ctx, entries: readonly Entry[]): { namespaces: NamespaceRes[]; sysctls: SysctlRes[]; tunsrc: Seg6TunsrcRes[] } {
  const namespaces: NamespaceRes[] = [];
  const sysctls: SysctlRes[] = [];
  const tunsrc: Seg6TunsrcRes[] = [];
  for (const e of entries) ctx.namespaces.add(e.value.name);
  for (const e of entries) {
    const v = e.value;
    ctx.nsName(v.name, e, 'name');
    namespaces.push({ kind: 'namespace', name: v.name, source: ctx.source(e) });
    for (const [k, val] of Object.entries(v.sysctls ?? {})) {
      const s = sysctl(ctx, { file: e.file, ptr: ptrJoin(e.ptr, 'sysctls', k), value: val }, v.name, k);
      if (s) sysctls.push(s);
    }
    const t = v.seg6 ? seg6Tunsrc(ctx, { file: e.file, ptr: ptrJoin(e.ptr, 'seg6'), value: v.seg6 }, v.name) : undefined;
    if (t) tunsrc.push(t);
  }
  return { namespaces, sysctls, tunsrc };
}

/** The root namespace's settings (top-level `seg6`), like a named namespace's. */
export function normaliseRootTunsrc(ctx: Ctx, seg6: Entry | undefined): Seg6TunsrcRes[] {
  const t = seg6 && seg6Tunsrc(ctx, seg6, '');
  return t ? [t] : [];
}

/** A `seg6` mapping's tunsrc (canonical IPv6), if declared. */
function seg6Tunsrc(ctx: Ctx, e: Entry, namespace: string): Seg6TunsrcRes | undefined {
  const raw = e.value?.tunsrc;
  if (raw === undefined) return undefined;
  const a = canonicalIp(raw);
  if (!a || ipFamily(a) !== 6) {
    ctx.err(e, 'tunsrc', `tunsrc '${raw}' is not an IPv6 address: ${whyNotIp(raw, 6)}`);
    return undefined;
  }
  // The kernel takes both, but no packet with such a source arrives anywhere (measured on 6.18):
  // it drops the forwarded packets it encapsulates (Ip6InAddrErrors), the next node its own (Ip6InHdrErrors).
  if (isMulticastIp(a) || a === '::1')
    ctx.err(e, 'tunsrc', `tunsrc '${a}' is ${a === '::1' ? 'the loopback address' : 'a multicast address'}: the kernel takes it, but every packet encapsulated from it is dropped (a forwarded one by this node, its own by the next); use a unicast address of the node`);
  return { kind: 'tunsrc', namespace, address: a, source: ctx.source({ ...e, ptr: ptrJoin(e.ptr, 'tunsrc') }) };
}

export function normaliseRootSysctls(ctx: Ctx, map: ReadonlyMap<string, Entry<unknown>>): SysctlRes[] {
  const out: SysctlRes[] = [];
  for (const [k, e] of map) {
    const s = sysctl(ctx, e as Entry, '', k);
    if (s) out.push(s);
  }
  return out;
}

/** Only net.* sysctls are per network namespace; values are kept as the text to write. */
function sysctl(ctx: Ctx, e: Entry, namespace: string, key: string): SysctlRes | undefined {
  if (!key.startsWith('net.')) {
    ctx.err(e, '', `sysctl '${key}' is not under net. (only network sysctls are per namespace)`, true);
    return undefined;
  }
  // A '/' stands for a '.' in a device name (sysctl(8)): a part of '/' or '//' would be '.' or '..'.
  if (!/^net(\.[A-Za-z0-9_/-]+)+$/.test(key) || key.split('.').some((p) => p === '/' || p === '//')) {
    ctx.err(e, '', `bad sysctl key '${key}' (dotted words of A-Z a-z 0-9 _ - /)`, true);
    return undefined;
  }
  const v = e.value;
  const value = typeof v === 'boolean' ? (v ? '1' : '0') : String(v).trim();
  if (value === '') {
    ctx.err(e, '', `sysctl '${key}' has an empty value`);
    return undefined;
  }
  // YAML 1.2 reads yes/no/on/off as text (YAML 1.1 read them as booleans): the kernel would refuse the word.
  if (typeof v === 'string' && /^(yes|no|on|off|y|n|true|false)$/i.test(value)) {
    ctx.err(e, '', `sysctl '${key}' value '${value}' is text, not a number: the kernel refuses it; write 1 or 0 (or unquoted true/false)`);
    return undefined;
  }
  return { kind: 'sysctl', namespace, key, value, source: ctx.source(e, true) };
}

export function normaliseBpf(ctx: Ctx, entries: readonly Entry[], baseDir: string | undefined): BpfProgramRes[] {
  const out: BpfProgramRes[] = [];
  for (const e of entries) {
    const v = e.value;
    const attach = bpfAttach(ctx, e, v.attach);
    const maps: string[] = v.maps ?? [];
    maps.forEach((m, i) => {
      if (maps.indexOf(m) !== i) ctx.err(e, `maps/${i}`, `map '${m}' is listed twice`);
    });
    let mapEntries: Record<string, { key: string; value: string }[]> | undefined;
    if (v.map_entries !== undefined) {
      mapEntries = {};
      for (const [m, list] of Object.entries<Raw[]>(v.map_entries)) {
        if (!maps.includes(m)) ctx.err(e, `map_entries/${m}`, `map '${m}' is not listed in 'maps'`, true);
        mapEntries[m] = list.map((kv, i) => ({
          key: hexBytes(ctx, e, `map_entries/${m}/${i}/key`, kv.key),
          value: hexBytes(ctx, e, `map_entries/${m}/${i}/value`, kv.value),
        }));
      }
    }
    const object = baseDir !== undefined ? path.resolve(baseDir, v.object) : v.object;
    out.push(compact({ kind: 'bpf', name: v.name, object, program: v.program, attach, maps, mapEntries, source: ctx.source(e) }));
  }
  return out;
}

function bpfAttach(ctx: Ctx, e: Entry, a: Raw): BpfAttach {
  const bad = (k: string): void => ctx.err(e, `attach/${k}`, `'${k}' is not valid for attach type ${a.type}`, true);
  const need = (k: string): void => ctx.err(e, 'attach', `attach type ${a.type} needs '${k}'`);
  if (a.type === 'cgroup') {
    for (const k of ['namespace', 'dev', 'direction']) if (a[k] !== undefined) bad(k);
    if (a.cgroup === undefined) need('cgroup');
    if (a.hook === undefined) need('hook');
    const cg = a.cgroup === undefined ? undefined : String(a.cgroup).replace(/^\/+/, '');
    if (cg !== undefined && cg.split('/').some((s: string) => s === '..'))
      ctx.err(e, 'attach/cgroup', `cgroup path must stay inside the cgroup2 mount (no '..')`);
    return compact({ type: 'cgroup', cgroup: cg, hook: a.hook });
  }
  for (const k of ['cgroup', 'hook']) if (a[k] !== undefined) bad(k);
  const ns = a.namespace ?? '';
  ctx.nsRef(ns, e, 'attach/namespace');
  if (a.dev === undefined) need('dev');
  else ctx.devRef(ns, a.dev, e, 'attach/dev', 'attach dev');
  if (a.type === 'xdp' && a.direction !== undefined) bad('direction');
  if (a.type !== 'xdp' && a.direction === undefined) need('direction');
  if (a.type !== 'clsact' && a.priority !== undefined) bad('priority');
  return compact({ type: a.type, namespace: ns, dev: a.dev, direction: a.direction, priority: a.type === 'clsact' ? a.priority : undefined });
}

/** Map keys/values as hex bytes: "0a 00 00 01", "0x0a000001" → "0a000001". */
function hexBytes(ctx: Ctx, e: Entry, sub: string, s: string): string {
  const h = s.replace(/^0x/i, '').replace(/[\s:]/g, '').toLowerCase();
  if (!/^([0-9a-f]{2})+$/.test(h)) ctx.err(e, sub, `'${s}' is not hex bytes (e.g. "0a 00 00 01")`);
  return h;
}
