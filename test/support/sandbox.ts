// Test harness for real-kernel tests: a unique sandbox prefix, a temp state dir, the CLI
// run as a child process, `ip -j` as an independent oracle, and cleanup that always runs.
import { spawnSync, spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Inventory } from '../../src/plan/types';

export const REPO = path.resolve(__dirname, '../../..');
const BIN = path.join(REPO, 'bin/voltron');

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class Sandbox {
  readonly prefix: string;
  readonly stateDir: string;

  constructor(tag: string, readonly configDir: string) {
    // VOLTRON_TEST_NS_PREFIX (default 'vt') lets concurrent runs keep to their own namespace names.
    this.prefix = `${process.env.VOLTRON_TEST_NS_PREFIX ?? 'vt'}${tag}${Math.random().toString(36).slice(2, 7)}-`;
    this.stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-test-'));
  }

  /** Run the CLI against this sandbox (`stateDir`: another one than the sandbox's own). */
  run(args: readonly string[], opts: { config?: string; env?: Record<string, string>; stateDir?: string } = {}): RunResult {
    const r = spawnSync(process.execPath, [BIN, ...args, '-c', opts.config ?? this.configDir, '--sandbox', this.prefix, '--state-dir', opts.stateDir ?? this.stateDir, '--no-color'], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, ...opts.env },
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Real namespace name of a logical one. */
  ns(logical: string): string {
    return `${this.prefix}${logical === '' ? 'root' : logical}`;
  }

  /** `ip -j -n <ns> ...` parsed. */
  ipj(logical: string, args: readonly string[]): any {
    const out = execFileSync('ip', ['-j', '-n', this.ns(logical), ...args], { encoding: 'utf8' });
    return out.trim() ? JSON.parse(out) : [];
  }

  ip(logical: string, args: readonly string[]): string {
    return execFileSync('ip', ['-n', this.ns(logical), ...args], { encoding: 'utf8' });
  }

  exec(logical: string, cmd: readonly string[], timeoutMs = 20_000): RunResult {
    const r = spawnSync('ip', ['netns', 'exec', this.ns(logical), ...cmd], { encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Namespaces that exist with this sandbox's prefix. */
  namespaces(): string[] {
    const out = execFileSync('ip', ['-j', 'netns', 'list'], { encoding: 'utf8' }).trim();
    const list: { name: string }[] = out ? JSON.parse(out) : [];
    return list.map((n) => n.name).filter((n) => n.startsWith(this.prefix)).sort();
  }

  /**
   * Start `ip monitor` in a namespace: counts netlink change events (an independent write
   * counter). `quiet()` waits until the kernel's own late events (IPv6 DAD) have settled;
   * `stop()` returns the events seen since then.
   */
  monitor(logical: string): { quiet: () => Promise<void>; stop: () => Promise<string[]> } {
    const child: ChildProcess = spawn('ip', ['-n', this.ns(logical), 'monitor', 'link', 'address', 'route', 'rule'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let buf = '';
    let mark = 0;
    child.stdout!.on('data', (d) => (buf += d));
    // A safety net for a test that never calls stop(); generous, as a loaded machine is slow.
    const killer = setTimeout(() => child.kill('SIGTERM'), 300_000);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    return {
      quiet: async () => {
        // Wait for IPv6 DAD to finish (tentative addresses), whose completion the kernel announces.
        for (let i = 0; i < 50; i++) {
          const t = execFileSync('ip', ['-j', '-n', this.ns(logical), 'addr', 'show', 'tentative'], { encoding: 'utf8' }).trim();
          const list: { addr_info?: unknown[] }[] = t ? JSON.parse(t) : [];
          if (!list.some((l) => (l.addr_info ?? []).length > 0)) break;
          await sleep(200);
        }
        await sleep(300);
        for (let i = 0; i < 20; i++) {
          const before = buf.length;
          await sleep(500);
          if (buf.length === before) break;
        }
        mark = buf.length;
      },
      stop: () =>
        new Promise((resolve) => {
          setTimeout(() => {
            clearTimeout(killer);
            const events = () => buf.slice(mark).split('\n').filter((l) => l.trim() !== '');
            // Already gone (the safety net, a crash): say so, rather than wait for an exit that came.
            if (child.exitCode !== null || child.signalCode !== null) resolve([...events(), `ip monitor exited early (${child.signalCode ?? child.exitCode})`]);
            else {
              child.once('exit', () => resolve(events()));
              child.kill('SIGTERM');
            }
          }, 200);
        }),
    };
  }

  /** Retry a ping until it succeeds (IPv6 link-local DAD delays neighbour discovery ~1 s after links come up). */
  pingUntil(logical: string, args: readonly string[], tries = 10): RunResult {
    let r: RunResult = { code: -1, stdout: '', stderr: '' };
    for (let i = 0; i < tries; i++) {
      r = this.exec(logical, ['ping', '-c', '1', '-W', '1', ...args]);
      if (r.code === 0) return r;
    }
    return r;
  }

  /** The sandbox's inventory file, parsed (an empty one when there is none yet). */
  inventory(): Inventory {
    const f = path.join(this.stateDir, 'sandbox', this.prefix, 'inventory.json');
    return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as Inventory) : { version: 1, owned: {}, original: {} };
  }

  /** Remove everything this sandbox may have left, whatever happened. */
  cleanup(): void {
    for (const n of this.namespaces()) spawnSync('ip', ['netns', 'del', n]);
    fs.rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** Copy an example (or any dir) to a temp dir so a test can edit it. */
export function copyConfig(src: string): string {
  const dst = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
  fs.cpSync(src, dst, { recursive: true, verbatimSymlinks: true });
  return dst;
}

/**
 * A sandbox applying one config file in a temp dir, with `edit(from, to)` for a test's next step
 * (the text must be there: a stale edit fails instead of silently planning nothing). Cleaned up
 * after the enclosing suite.
 */
export function editableSandbox(name: string, text: string): { sb: Sandbox; file: string; edit(from: string, to: string): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `voltron-${name}-`));
  const file = path.join(dir, 'net.yaml');
  fs.writeFileSync(file, text);
  const sb = new Sandbox(name, dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const edit = (from: string, to: string): void => {
    const now = fs.readFileSync(file, 'utf8');
    if (!now.includes(from)) throw new Error(`edit: ${JSON.stringify(from)} is not in ${file}`);
    fs.writeFileSync(file, now.replace(from, to));
  };
  return { sb, file, edit };
}

/** Everything observable in the sandbox's namespaces, without kernel-chosen ids (ifindex, MAC, link-local). */
export function liveOracle(sb: Sandbox): string {
  const out: string[] = [];
  for (const phys of sb.namespaces()) {
    const ns = phys.slice(sb.prefix.length);
    const logical = ns === 'root' ? '' : ns;
    out.push(`ns ${ns}`);
    for (const l of sb.ipj(logical, ['-d', 'link', 'show'])) {
      if (l.ifname === 'lo') continue;
      out.push(`link ${ns}/${l.ifname} ${l.linkinfo?.info_kind} mtu=${l.mtu} up=${l.flags.includes('UP')} master=${l.master ?? '-'} alias=${l.ifalias ?? '-'}`);
    }
    for (const l of sb.ipj(logical, ['addr', 'show'])) {
      for (const a of l.addr_info ?? []) if (l.ifname !== 'lo' && a.scope !== 'link') out.push(`addr ${ns}/${l.ifname} ${a.local}/${a.prefixlen}`);
    }
    for (const r of sb.ipj(logical, ['route', 'show', 'table', 'all'])) {
      // Kernel-generated IPv6 link-local routes appear asynchronously (addrconf): not ours to compare.
      if (r.table === 'local' || /^(fe80|ff00)/.test(r.dst)) continue;
      out.push(`route ${ns} ${r.type ?? 'unicast'} ${r.dst} dev=${r.dev ?? '-'} via=${r.gateway ?? '-'} metric=${r.metric ?? 0} proto=${r.protocol} table=${r.table ?? 'main'}`);
    }
  }
  return out.sort().join('\n');
}

/** The IPv4 rules at `priority` in a sandbox namespace, as `table:protocol` (or `action:protocol`), in the kernel's order. */
export function rulesAt(sb: Sandbox, ns: string, priority: number): string[] {
  return (sb.ipj(ns, ['-4', 'rule', 'show']) as { priority: number; table?: string; action?: string; protocol?: string }[])
    .filter((r) => r.priority === priority)
    .map((r) => `${r.table ?? r.action}:${r.protocol}`);
}

/** One-file config dirs (`net.yaml`) for a suite; `remove()` them after the suite's destroy. */
export class ConfigDirs {
  private readonly dirs: string[] = [];

  make(text: string): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-cfg-'));
    fs.writeFileSync(path.join(d, 'net.yaml'), text);
    this.dirs.push(d);
    return d;
  }

  remove(): void {
    for (const d of this.dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  }
}
