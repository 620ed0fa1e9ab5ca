// Deterministic topological sort (Kahn's algorithm with a priority queue for the tie-break).

// Sifts move a hole instead of swapping with `[a[i], a[p]] = [a[p], a[i]]`: a cold process runs
// this in the interpreter, where each such swap allocates an array (~40 000 per 3000 changes).
class Heap<T> {
  private readonly a: T[] = [];
  constructor(private readonly less: (x: T, y: T) => boolean) {}
  get size(): number {
    return this.a.length;
  }
  push(v: T): void {
    const a = this.a;
    let i = a.length;
    a.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(v, a[p]!)) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }
  pop(): T {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = l < n && this.less(a[l]!, last) ? l : -1;
        if (r < n && this.less(a[r]!, m < 0 ? last : a[m]!)) m = r;
        if (m < 0) break;
        a[i] = a[m]!;
        i = m;
      }
      a[i] = last;
    }
    return top;
  }
}

/** A cycle among `keys` following `deps` edges, for the error message. */
function findCycle(keys: readonly string[], deps: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const inSet = new Set(keys);
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (k: string): string[] | undefined => {
    state.set(k, 1);
    stack.push(k);
    for (const d of [...(deps.get(k) ?? [])].sort()) {
      if (!inSet.has(d)) continue;
      if (state.get(d) === 1) return [...stack.slice(stack.indexOf(d)), d];
      if (state.get(d) === undefined) {
        const c = visit(d);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(k, 2);
    return undefined;
  };
  for (const k of [...keys].sort()) {
    if (state.get(k) === undefined) {
      const c = visit(k);
      if (c) return c;
    }
  }
  return [...keys];
}

/**
 * Order `keys` so that every key comes after all its `deps` (restricted to `keys`); among ready
 * keys, the first by `compare` goes first (without `compare`: the first in `keys`). Throws
 * naming the keys of a cycle.
 */
export function topoSort(
  keys: readonly string[],
  deps: ReadonlyMap<string, ReadonlySet<string>>,
  compare?: (a: string, b: string) => number,
): string[] {
  // Rank every key once; the ready queue then compares small integers.
  const ranked = compare ? [...keys].sort(compare) : keys;
  const rank = new Map<string, number>();
  ranked.forEach((k, i) => rank.set(k, i));
  const indeg = new Int32Array(ranked.length);
  const dependents: number[][] = ranked.map(() => []);
  for (let i = 0; i < ranked.length; i++) {
    for (const d of deps.get(ranked[i]!) ?? []) {
      const j = rank.get(d);
      if (j === undefined || j === i) continue;
      indeg[i]!++;
      dependents[j]!.push(i);
    }
  }
  const ready = new Heap<number>((x, y) => x < y);
  for (let i = 0; i < ranked.length; i++) if (indeg[i] === 0) ready.push(i);
  const out: string[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    out.push(ranked[i]!);
    for (const x of dependents[i]!) if (--indeg[x]! === 0) ready.push(x);
  }
  if (out.length !== keys.length) {
    const done = new Set(out);
    const cycle = findCycle(
      keys.filter((k) => !done.has(k)),
      deps,
    );
    throw new Error(`plan has a dependency cycle: ${cycle.join(' → ')}`);
  }
  return out;
}
