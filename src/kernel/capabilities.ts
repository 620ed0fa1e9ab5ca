// What this running kernel supports, detected from the kernel itself (its symbol table),
// so a config using a missing feature fails at plan time with a clear error, before any write.
// A modular kernel loads a module on first use (`tc qdisc add ... htb` loads sch_htb): a
// symbol missing from a module not loaded yet but installed is not a missing feature.
// /proc/kallsyms is ~5 MB that the kernel formats on every read (100+ ms): the answers are kept
// per boot and kernel release in a cache file when the caller names one (the state dir's).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootId } from '../util/boot';
import { ensureDir } from '../util/fsx';

export interface Capability {
  readonly id: string;
  readonly description: string;
  /** Any of these symbols in the kernel: supported. */
  readonly symbols: readonly string[];
  /** The module that has them on a modular kernel. */
  readonly module: string;
}

export const CAPABILITIES = {
  bridgeVlanFiltering: { id: 'bridge-vlan-filtering', description: 'bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)', symbols: ['br_vlan_filter_toggle', 'nbp_vlan_add'], module: 'bridge' },
  vxlanVnifilter: { id: 'vxlan-vnifilter', description: 'VXLAN VNI filtering', symbols: ['vxlan_vnifilter_dump'], module: 'vxlan' },
  seg6local: { id: 'seg6local', description: 'SRv6 seg6local behaviours', symbols: ['seg6_local_build_state'], module: 'ipv6' },
  vrf: { id: 'vrf', description: 'VRF devices (CONFIG_NET_VRF), needed by End.DT4/End.DT46 and vrf_table', symbols: ['vrf_dev_init', 'vrf_newlink', 'vrf_fib_rule'], module: 'vrf' },
  qdisc_fq: { id: 'qdisc-fq', description: 'the fq qdisc (sch_fq)', symbols: ['fq_init'], module: 'sch_fq' },
  qdisc_fq_codel: { id: 'qdisc-fq_codel', description: 'the fq_codel qdisc (sch_fq_codel)', symbols: ['fq_codel_init'], module: 'sch_fq_codel' },
  qdisc_htb: { id: 'qdisc-htb', description: 'the htb qdisc', symbols: ['htb_init'], module: 'sch_htb' },
  qdisc_tbf: { id: 'qdisc-tbf', description: 'the tbf qdisc', symbols: ['tbf_init'], module: 'sch_tbf' },
  qdisc_clsact: { id: 'qdisc-clsact', description: 'the clsact qdisc', symbols: ['clsact_init'], module: 'sch_ingress' },
} satisfies Record<string, Capability>;

/** What the kernel says about modules: null on a kernel without loadable modules (its symbol table is complete). */
export interface ModuleState {
  readonly loaded: ReadonlySet<string>;
  /** Installed for this kernel (modules.dep), loadable on first use. */
  readonly installed: ReadonlySet<string>;
}

/**
 * true/false when known, undefined when not (the kernel answers at apply time). Pure: `found`
 * holds the symbols the table has; `modules` is null on a kernel without loadable modules.
 */
export function judge(c: Capability, found: ReadonlySet<string> | undefined, modules: ModuleState | null): boolean | undefined {
  if (found === undefined) return undefined; // the table could not be read
  if (c.symbols.some((s) => found.has(s))) return true;
  if (modules === null || modules.loaded.has(c.module)) return false;
  // Not loaded: an installed module may have it (loaded on first use); one that is not there, not.
  return modules.installed.has(c.module) ? undefined : false;
}

let answers: Map<string, boolean | undefined> | undefined;
let cacheFile: string | undefined;

/** Keep the answers in `file` (per boot and kernel release); set before the first question. */
export function setCapabilityCache(file: string | undefined): void {
  cacheFile = file;
}

/** true/false when known; undefined when the kernel cannot be asked. */
export function kernelSupports(c: Capability): boolean | undefined {
  answers ??= loadAnswers();
  return answers.get(c.id);
}

export function qdiscCapability(kind: string): Capability | undefined {
  return (CAPABILITIES as Record<string, Capability>)[`qdisc_${kind}`];
}

interface CacheText {
  readonly boot: string;
  readonly release: string;
  readonly answers: Record<string, boolean | null>;
}

function loadAnswers(): Map<string, boolean | undefined> {
  const stamp = { boot: bootId(), release: os.release() };
  if (cacheFile && stamp.boot !== '') {
    try {
      const c = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as CacheText;
      if (c.boot === stamp.boot && c.release === stamp.release) return new Map(Object.entries(c.answers).map(([k, v]) => [k, v ?? undefined]));
    } catch {
      // none yet, or unreadable: ask the kernel
    }
  }
  const all = Object.values(CAPABILITIES) as Capability[];
  const found = symbolsPresent(all.flatMap((c) => c.symbols));
  const modules = moduleState();
  const out = new Map(all.map((c) => [c.id, judge(c, found, modules)] as const));
  if (cacheFile && stamp.boot !== '' && found !== undefined) saveAnswers(cacheFile, { ...stamp, answers: Object.fromEntries([...out].map(([k, v]) => [k, v ?? null])) });
  return out;
}

function saveAnswers(file: string, c: CacheText): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    // Not Node's recursive mkdir: under /proc (a state dir there) it loops forever on Node 20.
    ensureDir(path.dirname(file), 0o700);
    fs.writeFileSync(tmp, JSON.stringify(c));
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true }); // a cache: failing to keep one is not an error
  }
}

/** Which of `names` the kernel's symbol table has (one scan); undefined when it cannot be read. */
function symbolsPresent(names: readonly string[]): Set<string> | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/kallsyms', 'utf8');
  } catch {
    return undefined;
  }
  if (text === '') return undefined;
  // Lines are `address type name` or `address type name\t[module]`.
  const re = new RegExp(` (${names.join('|')})(?=[\\t\\n])`, 'g');
  const found = new Set<string>();
  for (const m of text.matchAll(re)) found.add(m[1]!);
  return found;
}

function moduleState(): ModuleState | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/modules', 'utf8');
  } catch {
    return null; // no loadable modules
  }
  const loaded = new Set(text.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n !== ''));
  const installed = new Set<string>();
  try {
    // `kernel/net/sched/sch_htb.ko.xz: ...`: the module's name, - and _ alike.
    for (const line of fs.readFileSync(path.join('/lib/modules', os.release(), 'modules.dep'), 'utf8').split('\n')) {
      const m = /([^/:]+)\.ko(?:\.[a-z]+)?:/.exec(line);
      if (m) installed.add(m[1]!.replace(/-/g, '_'));
    }
  } catch {
    // no module list: every module not loaded counts as installed (unknown, not refused)
    return { loaded, installed: new Set(Object.values(CAPABILITIES).map((c) => c.module)) };
  }
  return { loaded, installed };
}
