// `ignore` globs: links matching them, and everything living on them, are outside Voltron's view.
import type { Resource } from '../model/types';
import { deviceOf } from './refs';

export type IgnoreMatcher = (linkName: string) => boolean;

const cache = new Map<string, IgnoreMatcher>();

/** Compile glob patterns (`*` any run, `?` one character, anchored) into one matcher. */
export function compileIgnore(patterns: readonly string[]): IgnoreMatcher {
  const id = patterns.join('\0');
  const hit = cache.get(id);
  if (hit) return hit;
  const res = patterns.map(
    (p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's'),
  );
  const m: IgnoreMatcher = res.length === 0 ? () => false : (name) => res.some((re) => re.test(name));
  if (cache.size > 64) cache.clear();
  cache.set(id, m);
  return m;
}

export function isIgnored(r: Resource, match: IgnoreMatcher): boolean {
  if (r.kind === 'link') return match(r.name);
  const dev = deviceOf(r);
  return dev !== undefined && match(dev[1]);
}
