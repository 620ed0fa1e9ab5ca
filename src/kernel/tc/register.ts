// Hooks the tc module into the generic reader and executor. Importing this file registers
// (idempotently); registerTc() does the same explicitly.
import type { ExecContext } from '../../apply/execute';
import { registerExecutor } from '../../apply/execute';
import type { QdiscRes, Resource, TcClassRes, TcFilterRes } from '../../model/types';
import type { Change } from '../../plan/types';
import { registerReader } from '../read';
import type { KernelSession, NsContext } from '../session';
import { createFilter, deleteFilter, readFilters, updateFilter } from './filter';
import { createQdisc, deleteQdisc, readQdiscs, replaceQdisc, updateQdisc } from './qdisc';
import { ignoringGone } from './raw';
import { createClass, deleteClass, readClasses, updateClass } from './tclass';

/**
 * Everything tc in one namespace: one qdisc dump, then a class dump per device carrying an htb
 * qdisc and two filter dumps (ingress, egress) per device carrying clsact.
 */
export function readTc(_session: KernelSession, ctx: NsContext, names: ReadonlyMap<number, string>): Resource[] {
  const { res, raw } = readQdiscs(ctx, names);
  const htb = new Map<number, string>();
  const clsact = new Map<number, string>();
  for (const q of raw) {
    const dev = names.get(q.ifindex);
    if (dev === undefined || q.handle === 0) continue;
    if (q.kind === 'htb') htb.set(q.ifindex, dev);
    if (q.kind === 'clsact') clsact.set(q.ifindex, dev);
  }
  return [...res, ...readClasses(ctx, htb), ...readFilters(ctx, clsact)];
}

export function execQdisc(c: Change, ctx: ExecContext): void {
  const s = ctx.session;
  const before = c.before as QdiscRes | undefined;
  const after = c.after as QdiscRes | undefined;
  switch (c.action) {
    case 'create':
      return createQdisc(s, after!);
    case 'update':
      return updateQdisc(s, after!, before);
    case 'replace':
      return replaceQdisc(s, before, after!);
    case 'delete':
      return ignoringGone(() => deleteQdisc(s, before!));
  }
}

export function execClass(c: Change, ctx: ExecContext): void {
  const s = ctx.session;
  const before = c.before as TcClassRes | undefined;
  const after = c.after as TcClassRes | undefined;
  switch (c.action) {
    case 'create':
      return createClass(s, after!);
    case 'update':
      return updateClass(s, after!, before);
    case 'replace': // a new parent: htb cannot move a class
      if (before) ignoringGone(() => deleteClass(s, before));
      return createClass(s, after!);
    case 'delete':
      return ignoringGone(() => deleteClass(s, before!));
  }
}

export function execFilter(c: Change, ctx: ExecContext): void {
  const s = ctx.session;
  switch (c.action) {
    case 'create':
      return createFilter(s, c.after as TcFilterRes);
    case 'update':
    case 'replace': // same hook and priority: swap the program in place
      return updateFilter(s, c.after as TcFilterRes);
    case 'delete':
      return ignoringGone(() => deleteFilter(s, c.before as TcFilterRes));
  }
}

let registered = false;
export function registerTc(): void {
  if (registered) return;
  registered = true;
  registerReader(readTc, ['qdisc', 'tclass', 'tfilter']);
  registerExecutor('qdisc', execQdisc);
  registerExecutor('tclass', execClass);
  registerExecutor('tfilter', execFilter);
}

registerTc();
