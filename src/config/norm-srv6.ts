// srv6.pools → SrhPool (segment lists checked), and binding SIDs → seg6local End.B6.Encaps routes.
import { canonicalIp, ipFamily, whyNotIp } from '../model/net';
import type { LinkRes, RouteRes, SrhPath, SrhPool } from '../model/types';
import { nsLabel } from '../model/keys';
import { compact, type Ctx } from './ctx';
import type { MergedPool } from './merge';
import type { Entry } from './types';

export const MAX_SEGMENTS = 16;

/** Inner MTU left by a seg6 encap with n segments on a 1500-byte underlay: outer IPv6 (40) + SRH (8 + 16·n). */
export function seg6Mtu(n: number): number {
  return 1500 - 40 - 8 - 16 * n;
}

/** Check a segment list (1..16 IPv6 addresses) at `sub`; returns canonical segments. */
export function segmentList(ctx: Ctx, e: Entry, sub: string, segs: readonly string[]): string[] {
  if (segs.length === 0 || segs.length > MAX_SEGMENTS)
    ctx.err(e, sub, `a segment list needs 1..${MAX_SEGMENTS} segments (has ${segs.length})`);
  return segs.map((s, i) => {
    const ip = canonicalIp(s);
    if (!ip || ipFamily(ip) !== 6) ctx.err(e, `${sub}/${i}`, `segment '${s}' is not an IPv6 address: ${whyNotIp(s, 6)}`);
    return ip ?? s;
  });
}

export function normalisePools(ctx: Ctx, pools: ReadonlyMap<string, MergedPool>): Map<string, SrhPool> {
  const out = new Map<string, SrhPool>();
  for (const p of pools.values()) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(p.name)) ctx.err(p.origin, '', `illegal pool name '${p.name}' (1..64 of A-Z a-z 0-9 _ . -)`, true);
    const paths: SrhPath[] = [];
    for (const [name, e] of p.paths) {
      const v = e.value;
      paths.push(compact({ name, segments: segmentList(ctx, e, 'segments', v.segments), mtu: v.mtu, weight: v.weight }));
    }
    const bsids: Record<string, { sid: string; namespace: string }> = {};
    for (const [path, e] of p.bsids) {
      const v = e.value;
      if (!p.paths.has(path)) ctx.err(e, '', `bsid names path '${path}', which pool '${p.name}' does not have`, true);
      const sid = canonicalIp(v.sid);
      if (!sid || ipFamily(sid) !== 6) ctx.err(e, 'sid', `binding SID '${v.sid}' is not an IPv6 address: ${whyNotIp(v.sid, 6)}`);
      const ns = v.namespace ?? '';
      ctx.nsRef(ns, e, 'namespace');
      bsids[path] = { sid: sid ?? v.sid, namespace: ns };
    }
    const pool: SrhPool = { name: p.name, paths, source: ctx.source(p.origin) };
    out.set(p.name, p.bsids.size ? { ...pool, bsids } : pool);
  }
  return out;
}

/**
 * One End.B6.Encaps route per binding SID: traffic to the SID gets the path's segments.
 * The route needs a device: the bsid's `dev`, else the first link declared in its namespace.
 */
export function bsidRoutes(ctx: Ctx, merged: ReadonlyMap<string, MergedPool>, pools: ReadonlyMap<string, SrhPool>, links: readonly LinkRes[]): RouteRes[] {
  const out: RouteRes[] = [];
  for (const mp of merged.values()) {
    const pool = pools.get(mp.name)!;
    for (const [pathName, e] of mp.bsids) {
      const b = pool.bsids?.[pathName];
      const path = pool.paths.find((x) => x.name === pathName);
      if (!b || !path) continue;
      let dev: string | undefined = e.value.dev;
      if (dev !== undefined) ctx.devRef(b.namespace, dev, e, 'dev', 'bsid dev');
      else dev = links.find((l) => l.namespace === b.namespace)?.name;
      if (dev === undefined) {
        ctx.err(e, '', `bsid needs 'dev': no link is declared in namespace ${nsLabel(b.namespace)}`);
        continue;
      }
      out.push({
        kind: 'route',
        namespace: b.namespace,
        family: 6,
        to: `${b.sid}/128`,
        table: 254,
        metric: 1024,
        type: 'unicast',
        dev,
        encap: { type: 'seg6local', action: 'End.B6.Encaps', segments: path.segments },
        poolRef: { pool: mp.name, path: pathName },
        source: ctx.source(e),
      });
    }
  }
  return out;
}
