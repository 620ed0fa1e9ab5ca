// Benchmark: Voltron vs iproute2 for N sets of {bridge, VXLAN enslaved to it, IPv4 address
// on the bridge, all up}, each in fresh namespaces, measured in the same run (ratios).
//   node dist/bench/reconcile.js [--json] [--sizes 200,1000] [--repeat 5] [--timings]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO = path.resolve(__dirname, '../..');
const BIN = path.join(REPO, 'bin/voltron');
const args = process.argv.slice(2);
const json = args.includes('--json');
const sizes = (args[args.indexOf('--sizes') + 1] && args.includes('--sizes') ? args[args.indexOf('--sizes') + 1]! : '200,1000').split(',').map(Number);
const repeat = args.includes('--repeat') ? Number(args[args.indexOf('--repeat') + 1]) : 5;
/** `--timings`: print each Voltron run's phase timings (VOLTRON_TIMINGS) to stderr. */
const timings = args.includes('--timings');

function seconds(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function writeConfig(dir: string, n: number, mtuOf: (i: number) => number): void {
  const lines = ['links:'];
  for (let i = 0; i < n; i++) {
    lines.push(`  - { name: br${i}, type: bridge, mtu: ${mtuOf(i)} }`);
    lines.push(`  - { name: vx${i}, type: vxlan, master: br${i}, vxlan: { vni: ${i + 1}, dstport: 4789 } }`);
  }
  lines.push('addresses:');
  for (let i = 0; i < n; i++) lines.push(`  - { address: 10.${100 + (i >> 8)}.${i & 255}.1/24, dev: br${i} }`);
  fs.writeFileSync(path.join(dir, 'network.yaml'), `${lines.join('\n')}\n`);
}

function ipBatchFile(n: number): string {
  const cmds: string[] = [];
  for (let i = 0; i < n; i++) {
    cmds.push(`link add br${i} mtu 1500 type bridge`);
    cmds.push(`link add vx${i} type vxlan id ${i + 1} dstport 4789`);
    cmds.push(`link set vx${i} master br${i}`);
    cmds.push(`addr add 10.${100 + (i >> 8)}.${i & 255}.1/24 dev br${i}`);
    cmds.push(`link set br${i} up`);
    cmds.push(`link set vx${i} up`);
  }
  return `${cmds.join('\n')}\n`;
}

/**
 * The same objects in one netlink request each, as Voltron sends them: a link is created with
 * its master and up flag, then its address. Not the contender (the issue names the commands
 * above); it shows how much of a run is the kernel's own work, which no client can go under.
 */
function ipMinimalBatchFile(n: number): string {
  const cmds: string[] = [];
  for (let i = 0; i < n; i++) {
    cmds.push(`link add br${i} mtu 1500 up type bridge`);
    cmds.push(`link add vx${i} master br${i} up type vxlan id ${i + 1} dstport 4789`);
    cmds.push(`addr add 10.${100 + (i >> 8)}.${i & 255}.1/24 dev br${i}`);
  }
  return `${cmds.join('\n')}\n`;
}

/**
 * Deleting a namespace with thousands of links is finished asynchronously by the kernel (it
 * starts after an RCU grace period and holds the RTNL while it unregisters the links), and
 * creating the next namespace waits for it (seen: 5 s at N=200, 20 s at N=1000). Wait for
 * that outside the timings, so neither contender pays for the other's teardown: a probe
 * namespace is created repeatedly until creating one is fast again.
 */
function settle(tag: string): void {
  const probe = `vbench${tag}settle`;
  for (let i = 0; i < 200; i++) {
    spawnSync('sleep', ['0.3']);
    const t = seconds(() => {
      execFileSync('ip', ['netns', 'add', probe]);
      execFileSync('ip', ['netns', 'del', probe]);
    });
    if (t < 0.05) break;
  }
  idleCpu();
}

/** CPU busy fraction over a short window, from /proc/stat (all CPUs). */
function busyFraction(windowSeconds: number): number {
  const sample = (): [number, number] => {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3]! + f[4]!;
    return [f.reduce((a, b) => a + b, 0), idle];
  };
  const [t0, i0] = sample();
  spawnSync('sleep', [String(windowSeconds)]);
  const [t1, i1] = sample();
  return t1 === t0 ? 0 : 1 - (i1 - i0) / (t1 - t0);
}

/**
 * The kernel keeps freeing a deleted namespace's devices (RCU callbacks, workqueues) after
 * netns creation is fast again: wait until the CPUs are idle (two 0.5 s windows under 10 %
 * busy, at most 30 s), so that work does not land inside the next timing.
 */
function idleCpu(): void {
  let calm = 0;
  for (let i = 0; i < 60 && calm < 2; i++) calm = busyFraction(0.5) < 0.1 ? calm + 1 : 0;
}

/**
 * Wait until the namespace is quiet: no netlink change event for 2 s (IPv6 DAD of 2000 fresh
 * links is serialised by the kernel and goes on for ~20 s, each completion an event).
 */
function quiet(ns: string): void {
  for (let i = 0; i < 60; i++) {
    const r = spawnSync('timeout', ['2', 'ip', '-n', ns, 'monitor', 'link', 'address', 'route', 'rule'], { encoding: 'utf8' });
    if ((r.stdout ?? '').trim() === '') return;
  }
  throw new Error(`namespace ${ns} never became quiet`);
}

/** Wait until IPv6 DAD is over in a namespace (its completion is announced as events). */
function dadSettled(ns: string): void {
  for (let i = 0; i < 300; i++) {
    const t = execFileSync('ip', ['-j', '-n', ns, 'addr', 'show', 'tentative'], { encoding: 'utf8', maxBuffer: 1 << 26 }).trim();
    const list: { addr_info?: unknown[] }[] = t ? JSON.parse(t) : [];
    if (!list.some((l) => (l.addr_info ?? []).length > 0)) return;
    spawnSync('sleep', ['0.2']);
  }
}

interface IpLinkJ {
  ifname: string;
  mtu: number;
  flags: string[];
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; port?: number } };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/**
 * What both contenders must have built, from `ip -j` (kernel-chosen ids left out): every
 * bridge and VXLAN with kind, MTU, master, VNI, port, UP flag and IPv4 addresses.
 */
function endState(ns: string): string {
  const j = (a: string[]) => JSON.parse(execFileSync('ip', ['-j', '-n', ns, ...a], { encoding: 'utf8', maxBuffer: 1 << 28 })) as IpLinkJ[];
  const addrs = new Map(j(['addr', 'show']).map((l) => [l.ifname, (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)]));
  return j(['-d', 'link', 'show'])
    .filter((l) => /^(br|vx)[0-9]+$/.test(l.ifname))
    .map((l) => [l.ifname, l.linkinfo?.info_kind, l.mtu, l.master ?? '-', l.linkinfo?.info_data?.id ?? '-', l.linkinfo?.info_data?.port ?? '-', l.flags.includes('UP') ? 'up' : 'down', ...(addrs.get(l.ifname) ?? [])].join(' '))
    .sort()
    .join('\n');
}

function voltron(prefix: string, state: string, cfg: string, ...a: string[]): void {
  const env = timings ? { ...process.env, VOLTRON_TIMINGS: '1' } : process.env;
  // Run as a user runs it: the executable itself, through its shebang (which, among other
  // things, keeps Node from parsing NODE_EXTRA_CA_CERTS at start-up; see bin/voltron).
  const r = spawnSync(BIN, [...a, '-c', cfg, '--sandbox', prefix, '--state-dir', state, '--no-color'], { encoding: 'utf8', env });
  if (timings) process.stderr.write(`voltron ${a[0]}: ${(r.stderr ?? '').split('\n').filter((l) => / ms /.test(l)).map((l) => l.trim().replace(/ +ms +/, 'ms ')).join(', ')}\n`);
  if (r.status !== 0 && !(a[0] === 'plan' && r.status === 2)) throw new Error(`voltron ${a.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout.slice(-2000)}`);
}

async function countEvents(ns: string, during: () => void): Promise<number> {
  const child = spawn('ip', ['-n', ns, 'monitor', 'link', 'address', 'route', 'rule'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let buf = '';
  child.stdout.on('data', (d) => (buf += d));
  await new Promise((r) => setTimeout(r, 300));
  during();
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return buf.split('\n').filter((l) => l.trim()).length;
}

interface Result {
  freshApplySeconds: number;
  ipBatchSeconds: number;
  /** `ip -batch` with one request per object (the kernel's share: see ipMinimalBatchFile). */
  ipMinimalBatchSeconds: number;
  /** Median over rounds of (Voltron / ip) in the same round: robust to this VM's slow phases. */
  freshApplyRatio: number;
  /** median(Voltron) / median(ip), for comparison. */
  freshApplyRatioOfMedians: number;
  noopPlanSeconds: number;
  noopApplySeconds: number;
  ipReadSeconds: number;
  noopPlanRatioToIpRead: number;
  noopApplyWrites: number;
  changeApplySeconds: number;
  /** Every timing, in run order (medians above). */
  samples: Record<string, number[]>;
}

async function runSize(n: number): Promise<Result> {
  const tag = Math.random().toString(36).slice(2, 7);
  const cfg = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-bench-cfg-'));
  const batch = path.join(cfg, 'batch.ip');
  fs.writeFileSync(batch, ipBatchFile(n));
  const minimal = path.join(cfg, 'minimal.ip');
  fs.writeFileSync(minimal, ipMinimalBatchFile(n));
  writeConfig(cfg, n, () => 1500);
  const fresh: number[] = [];
  const ipb: number[] = [];
  const ipMin: number[] = [];
  const cleanupNs: string[] = [];
  const states: string[] = [];
  let ipState = '';
  let ipMinState = '';
  let voltronState = '';
  try {
    for (let k = 0; k < repeat; k++) {
      // Each contender runs alone: the other's namespace (2000 links still doing IPv6 DAD for
      // ~20 s) is deleted and the kernel has finished tearing it down before the timing starts.
      // The order alternates, so neither always runs first.
      const ipns = `vbench${tag}ip${k}`;
      const prefix = `vbench${tag}v${k}-`;
      cleanupNs.push(ipns, `${prefix}root`);
      const state = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-bench-state-'));
      states.push(state);
      const runIp = (file: string, into: number[], keep: (state: string) => void) => (): void => {
        // iproute2: a fresh namespace (its creation timed, as Voltron's is), one `ip -batch` process.
        settle(tag);
        into.push(seconds(() => {
          execFileSync('ip', ['netns', 'add', ipns]);
          execFileSync('ip', ['-n', ipns, '-batch', file]);
        }));
        if (k === 0) keep(endState(ipns));
        execFileSync('ip', ['netns', 'del', ipns]);
      };
      const runVoltron = (): void => {
        // Voltron: whole CLI process, fresh sandbox namespace (created by the apply itself),
        // new state dir (so the config is parsed and validated from scratch: no cache).
        settle(tag);
        fresh.push(seconds(() => voltron(prefix, state, cfg, 'apply', '--auto-approve')));
        if (k === 0) voltronState = endState(`${prefix}root`);
      };
      const dropVoltron = (): void => voltron(prefix, state, cfg, 'destroy', '--auto-approve');
      // The order rotates, so none always runs first; the last round runs Voltron last and keeps
      // its namespace for the no-op measurements below.
      const ipFull = runIp(batch, ipb, (s) => (ipState = s));
      const ipMinimal = runIp(minimal, ipMin, (s) => (ipMinState = s));
      const voltronRound = (): void => {
        runVoltron();
        if (k !== repeat - 1) dropVoltron();
      };
      const orders = [
        [ipFull, ipMinimal, voltronRound],
        [voltronRound, ipFull, ipMinimal],
        [ipMinimal, voltronRound, ipFull],
      ];
      for (const run of k === repeat - 1 ? orders[0]! : orders[k % 3]!) run();
    }
    // Same work: both built exactly the same links and addresses.
    if (ipState !== voltronState || ipMinState !== ipState || ipState.split('\n').length !== 2 * n) {
      throw new Error(`ip -batch and Voltron built different things:\n--- ip\n${ipState.slice(0, 2000)}\n--- voltron\n${voltronState.slice(0, 2000)}`);
    }
    const prefix = `vbench${tag}v${repeat - 1}-`;
    const state = states[states.length - 1]!;
    const ns = `${prefix}root`;
    // No-op timings are of the steady state: after the kernel's own IPv6 DAD churn is over.
    settle(tag);
    dadSettled(ns);
    quiet(ns);
    const plan: number[] = [];
    const noop: number[] = [];
    const read: number[] = [];
    for (let k = 0; k < repeat; k++) {
      plan.push(seconds(() => voltron(prefix, state, cfg, 'plan', '--detailed-exitcode')));
      read.push(seconds(() => {
        execFileSync('ip', ['-n', ns, '-j', '-d', 'link', 'show'], { maxBuffer: 1 << 28 });
        execFileSync('ip', ['-n', ns, '-j', 'addr', 'show'], { maxBuffer: 1 << 28 });
      }));
    }
    let noopWrites = 0;
    settle(tag);
    quiet(ns);
    for (let k = 0; k < repeat; k++) {
      let t = 0;
      noopWrites += await countEvents(ns, () => (t = seconds(() => voltron(prefix, state, cfg, 'apply', '--auto-approve'))));
      noop.push(t);
    }
    const change: number[] = [];
    for (let k = 0; k < repeat; k++) {
      // A desired MTU different from the live one: 1400, 1399, ... on one bridge.
      writeConfig(cfg, n, (i) => (i === n >> 1 ? 1400 - k : 1500));
      change.push(seconds(() => voltron(prefix, state, cfg, 'apply', '--auto-approve')));
    }
    writeConfig(cfg, n, () => 1500);
    voltron(prefix, state, cfg, 'destroy', '--auto-approve');
    const r: Result = {
      freshApplySeconds: median(fresh),
      ipBatchSeconds: median(ipb),
      ipMinimalBatchSeconds: median(ipMin),
      freshApplyRatio: median(fresh.map((f, i) => f / ipb[i]!)),
      freshApplyRatioOfMedians: median(fresh) / median(ipb),
      noopPlanSeconds: median(plan),
      noopApplySeconds: median(noop),
      ipReadSeconds: median(read),
      noopPlanRatioToIpRead: median(plan) / median(read),
      noopApplyWrites: noopWrites,
      changeApplySeconds: median(change),
      samples: { freshApply: fresh, ipBatch: ipb, ipMinimalBatch: ipMin, freshApplyRatio: fresh.map((f, i) => f / ipb[i]!), noopPlan: plan, noopApply: noop, ipRead: read, changeApply: change },
    };
    if (!json) process.stderr.write(`  samples (s): ${Object.entries(r.samples).map(([k, v]) => `${k} ${v.map((x) => x.toFixed(3)).join('/')}`).join('; ')}\n`);
    return r;
  } finally {
    for (const ns of cleanupNs) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    for (const s of states) fs.rmSync(s, { recursive: true, force: true });
    fs.rmSync(cfg, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const results: Record<string, Result> = {};
  for (const n of sizes) {
    if (!json) process.stderr.write(`bench: N=${n} (${repeat} repetitions, medians)...\n`);
    results[String(n)] = await runSize(n);
  }
  // Context for the start-up share of a CLI run: a bare Node process, with the environment as
  // it is and without NODE_EXTRA_CA_CERTS (which bin/voltron's shebang drops).
  const bare = (env: NodeJS.ProcessEnv) => median([1, 2, 3, 4, 5].map(() => seconds(() => spawnSync(process.execPath, ['-e', '0'], { env }))));
  const noCa = { ...process.env };
  delete noCa.NODE_EXTRA_CA_CERTS;
  const nodeStart = { nodeStartSeconds: bare(process.env), nodeStartWithoutExtraCaSeconds: bare(noCa), extraCaCertsSet: process.env.NODE_EXTRA_CA_CERTS !== undefined };
  const meta = { kernel: os.release(), cpus: os.cpus().length, node: process.version, repeat, statistic: 'median', ...nodeStart };
  if (json) {
    process.stdout.write(`${JSON.stringify({ meta, results }, null, 2)}\n`);
    return;
  }
  const rows: [string, (r: Result) => string][] = [
    ['fresh apply (voltron CLI)', (r) => `${r.freshApplySeconds.toFixed(3)} s`],
    ['ip -batch (same objects)', (r) => `${r.ipBatchSeconds.toFixed(3)} s`],
    ['ip -batch, one request per object', (r) => `${r.ipMinimalBatchSeconds.toFixed(3)} s`],
    ['fresh apply ratio (target <= 1.5)', (r) => `${r.freshApplyRatio.toFixed(2)}x`],
    ['  (ratio of the medians)', (r) => `${r.freshApplyRatioOfMedians.toFixed(2)}x`],
    ['no-op plan (CLI, target <= 0.3 s)', (r) => `${r.noopPlanSeconds.toFixed(3)} s`],
    ['no-op apply (CLI)', (r) => `${r.noopApplySeconds.toFixed(3)} s`],
    ['ip -j -d link + ip -j addr', (r) => `${r.ipReadSeconds.toFixed(3)} s`],
    ['no-op plan / ip read', (r) => `${r.noopPlanRatioToIpRead.toFixed(2)}x`],
    ['no-op apply kernel writes (target 0)', (r) => `${r.noopApplyWrites}`],
    ['one-attribute change apply', (r) => `${r.changeApplySeconds.toFixed(3)} s`],
  ];
  const w = Math.max(...rows.map(([l]) => l.length));
  const out = [`| ${'metric'.padEnd(w)} | ${sizes.map((n) => `N=${n}`.padStart(10)).join(' | ')} |`, `|${'-'.repeat(w + 2)}|${sizes.map(() => '-'.repeat(12)).join('|')}|`];
  for (const [label, f] of rows) out.push(`| ${label.padEnd(w)} | ${sizes.map((n) => f(results[String(n)]!).padStart(10)).join(' | ')} |`);
  process.stdout.write(`${out.join('\n')}\n\n${JSON.stringify(meta)}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
