// CLI usage without a kernel: stray arguments, no command, and the confirmation prompt's
// end of input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

function repoRoot(): string {
  let d = __dirname;
  while (!fs.existsSync(path.join(d, 'package.json'))) d = path.dirname(d);
  return d;
}

const BIN = path.join(repoRoot(), 'bin', 'voltron');
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

test('a stray argument is a usage error, not silently ignored (`voltron plan ./cfg` planned the current directory)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-usage-'));
  try {
    fs.writeFileSync(path.join(dir, 'base.yaml'), 'links:\n  - { name: br0, type: bridge }\n');
    const r = run(['validate', dir, '--state-dir', dir]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /unexpected argument '.*voltron-usage-.*' \(the config directory is given with -c DIR\)/);
    assert.equal(run(['validate', '-c', dir, '--state-dir', dir]).status, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('no command: the help goes to stderr with exit 1; --help to stdout with exit 0', () => {
  const none = run([]);
  assert.equal(none.status, 1);
  assert.equal(none.stdout, '');
  assert.match(none.stderr, /Usage: voltron <command>/);
  const help = run(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: voltron <command>/);
});

test('the confirmation prompt reads end of input as "no" (it left the command hanging, then exiting 0)', () => {
  const output = path.join(repoRoot(), 'dist', 'src', 'cli', 'output.js');
  const script = `require(${JSON.stringify(output)}).confirm('Apply? ').then((a) => { process.stdout.write('answer=' + a); process.exitCode = 3; });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', input: '' });
  assert.equal(r.status, 3, r.stderr);
  assert.match(r.stdout, /answer=false/);
  const yes = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', input: 'yes\n' });
  assert.match(yes.stdout, /answer=true/);
});

test('an option whose value is missing does not take the next option as its value (`apply -c --auto-approve` read a config dir named --auto-approve)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-usage-'));
  try {
    for (const [args, option, next] of [
      [['validate', '-c', '--no-color'], 'config', '--no-color'],
      [['plan', '--state-dir', '--sandbox', 'x'], 'state-dir', '--sandbox'],
      [['show', '-o', '-n', 'a'], 'output', '-n'],
      [['apply', '--host', '--auto-approve'], 'host', '--auto-approve'],
    ] as const) {
      const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: dir });
      assert.equal(r.status, 1, args.join(' '));
      assert.equal(r.stdout, '');
      assert.ok(r.stderr.includes(`option --${option} needs a value`) && r.stderr.includes(`got the option '${next}'`), r.stderr);
    }
    assert.deepEqual(fs.readdirSync(dir), []);
    // A value that does start with '-' is still given inline.
    const inline = run(['validate', '--config=-nothing-here', '--state-dir', dir]);
    assert.match(inline.stderr, /-nothing-here.*cannot read config directory/);
    // A short option's value may be attached (-ojson, -o=json, -cDIR), as getopt and kubectl take it.
    for (const attached of [['-c-nothing-here'], ['-c=-nothing-here']]) assert.match(run(['validate', ...attached, '--state-dir', dir]).stderr, /'-nothing-here'/);
    assert.match(run(['plan', '-oxml', '--state-dir', dir]).stderr, /-o xml: use text, json or markdown/);
    assert.match(run(['plan', '-hx']).stderr, /unknown option -hx/, 'a flag takes no attached value');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('no command: the usage error says why (an unknown option, or none given); `voltron help CMD` is CMD --help', () => {
  const unknown = run(['--verbose']);
  assert.equal(unknown.status, 1);
  assert.equal(unknown.stderr, "voltron: unknown option --verbose\nRun 'voltron --help' for the list of commands and options.\n");
  const onlyGlobal = run(['-c', 'somewhere']);
  assert.equal(onlyGlobal.status, 1);
  assert.match(onlyGlobal.stderr, /^voltron: no command given\n/);
  const help = run(['help', 'plan']);
  assert.equal(help.status, 0);
  assert.equal(help.stdout, run(['plan', '--help']).stdout);
  // A command's option before the command: its value is not the command.
  const early = run(['-o', 'json', 'validate']);
  assert.equal(early.status, 1);
  assert.match(early.stderr, /^voltron validate: unknown option -o\n/);
  assert.match(run(['-o', 'json']).stderr, /^voltron: no command given\n/);
  const bogus = run(['help', 'bogus']);
  assert.equal(bogus.status, 1);
  assert.match(bogus.stderr, /unknown command "bogus"/);
});

test('--version, -V and `voltron version` print the package version on stdout, exit 0 (--version was an unknown option)', () => {
  const { version } = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string };
  for (const args of [['--version'], ['-V'], ['version'], ['plan', '--version'], ['-c', 'nowhere', '-V']]) {
    const r = run(args);
    assert.equal(r.status, 0, args.join(' '));
    assert.equal(r.stdout, `voltron ${version}\n`, args.join(' '));
    assert.equal(r.stderr, '', args.join(' '));
  }
  assert.match(run(['--help']).stdout, /^ {2}version {2,}/m, 'the command is listed');
});

test('an unknown command or option says so in one line and where help is, with the exit code 1 (the whole help buried the reason)', () => {
  const typo = run(['aply', '-c', 'x']);
  assert.equal(typo.status, 1);
  assert.equal(typo.stdout, '');
  assert.equal(typo.stderr, "voltron: unknown command \"aply\" (did you mean 'apply'?)\nRun 'voltron --help' for the list of commands and options.\n");
  assert.equal(run(['frobnicate']).stderr, "voltron: unknown command \"frobnicate\"\nRun 'voltron --help' for the list of commands and options.\n");
  const option = run(['plan', '--bogus']);
  assert.equal(option.status, 1);
  assert.equal(option.stderr, "voltron plan: unknown option --bogus\nUsage: voltron plan [-o text|json|markdown] [--detailed-exitcode]\nRun 'voltron plan --help' for its options.\n");
  // A bare `voltron` still shows the whole help (on stderr, exit 1): nothing was typed wrong.
  const bare = run([]);
  assert.equal(bare.status, 1);
  assert.match(bare.stderr, /^voltron: declarative reconciler.*Usage: voltron <command>/s);
});

test("an empty --state-dir or -c is a usage error and an empty VOLTRON_STATE_DIR / VOLTRON_SANDBOX is unset (the state dir was '', so the cache and inventory went to the current directory)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-usage-'));
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-state-'));
  try {
    fs.writeFileSync(path.join(dir, 'base.yaml'), 'links:\n  - { name: br0, type: bridge }\n');
    const inDir = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: dir, env: { ...process.env, ...env } });
    for (const option of ['--state-dir', '-c']) {
      const r = inDir(['validate', option, '']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /an empty directory name \(use \. for the current directory\)/);
    }
    const env = inDir(['validate', '--state-dir', state], { VOLTRON_SANDBOX: '' });
    assert.equal(env.status, 0, env.stderr);
    assert.deepEqual(fs.readdirSync(dir), ['base.yaml']);
    // In process, so that nothing is written to the default state dir.
    const { makeContext } = require(path.join(repoRoot(), 'dist', 'src', 'cli', 'common.js')) as typeof import('../../src/cli/common');
    const saved = process.env.VOLTRON_STATE_DIR;
    try {
      process.env.VOLTRON_STATE_DIR = '';
      assert.equal(makeContext({ opts: new Map(), positionals: [] }).stateDir, '/var/lib/voltron');
    } finally {
      if (saved === undefined) delete process.env.VOLTRON_STATE_DIR;
      else process.env.VOLTRON_STATE_DIR = saved;
    }
    const set = inDir(['validate'], { VOLTRON_STATE_DIR: state });
    assert.equal(set.status, 0, set.stderr);
    assert.ok(fs.existsSync(path.join(state, 'cache')), 'VOLTRON_STATE_DIR is the state dir');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(state, { recursive: true, force: true });
  }
});

test('on a terminal with stdout redirected (`apply > plan.log`), the question goes to the terminal (stderr), not into the file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-usage-'));
  try {
    const output = path.join(repoRoot(), 'dist', 'src', 'cli', 'output.js');
    const js = path.join(dir, 'ask.js');
    fs.writeFileSync(js, `require(${JSON.stringify(output)}).confirm('Apply? ').then((a) => { process.stdout.write('answer=' + a + '\\n'); });\n`);
    const log = path.join(dir, 'out.log');
    // script(1) gives the process a pseudo-terminal for stdin and stderr; stdout goes to the file.
    const { spawn } = await import('node:child_process');
    const child = spawn('script', ['-qec', `'${process.execPath}' '${js}' > '${log}'`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let seen = '';
    child.stdout.on('data', (d) => (seen += d));
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const end = Date.now() + 10_000;
    while (!seen.includes('Apply?') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    child.stdin.write('yes\r');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    assert.match(seen, /Apply\?/, 'the terminal shows the question');
    const file = fs.readFileSync(log, 'utf8');
    assert.doesNotMatch(file, /Apply\?/);
    assert.match(file, /answer=true/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('docs/cli.md names every command and every option (show --all, recover --abandon were in --help only)', () => {
  const doc = fs.readFileSync(path.join(repoRoot(), 'docs', 'cli.md'), 'utf8');
  const { COMMANDS } = require(path.join(repoRoot(), 'dist', 'src', 'cli', 'commands.js')) as typeof import('../../src/cli/commands');
  const { GLOBAL_OPTIONS } = require(path.join(repoRoot(), 'dist', 'src', 'cli', 'common.js')) as typeof import('../../src/cli/common');
  for (const c of COMMANDS) {
    assert.ok(doc.includes(`| \`${c.name}\` |`), `command ${c.name} is not in docs/cli.md`);
    for (const o of c.options) assert.ok(doc.includes(`--${o.name}`), `${c.name} --${o.name} is not in docs/cli.md`);
  }
  for (const o of GLOBAL_OPTIONS) assert.ok(doc.includes(`--${o.name}`), `--${o.name} is not in docs/cli.md`);
});

test('without root, kernel commands refuse up front saying to run as root (a plan showed `tag: rejected:EPERM`, an apply rolled back after `mount --bind /run/netns: EPERM`)', () => {
  const { missingCapabilities } = require(path.join(repoRoot(), 'dist', 'src', 'cli', 'privileges.js')) as typeof import('../../src/cli/privileges');
  assert.deepEqual(missingCapabilities('Name:\tnode\nCapEff:\t000001fffeffffff\n'), []);
  assert.deepEqual(missingCapabilities('CapEff:\t0000000000000000\n'), ['CAP_NET_ADMIN']);
  assert.deepEqual(missingCapabilities('CapEff:\t0000000000001000\n'), [], 'bit 12 (a container granted NET_ADMIN only may manage root-namespace links)');
  assert.deepEqual(missingCapabilities('CapEff:\t0000000000200000\n'), ['CAP_NET_ADMIN']);
  assert.deepEqual(missingCapabilities('no such line\n'), []);
  // A sandbox is namespaces: NET_ADMIN alone failed later with "setns: EPERM".
  assert.deepEqual(missingCapabilities('CapEff:\t0000000000001000\n', true), ['CAP_SYS_ADMIN']);
  assert.deepEqual(missingCapabilities('CapEff:\t0000000000201000\n', true), []);
  assert.deepEqual(missingCapabilities('CapEff:\t0000000000000000\n', true), ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN']);
  if (process.getuid?.() !== 0) return; // dropping to nobody needs root
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-usage-'));
  try {
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'base.yaml'), 'links:\n  - { name: br0, type: bridge }\n', { mode: 0o644 });
    const asNobody = (args: string[]) => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args], { encoding: 'utf8', cwd: dir });
    for (const cmd of ['plan', 'apply', 'destroy', 'show', 'recover', 'confirm']) {
      const r = asNobody([cmd, '-c', dir, '--state-dir', path.join(dir, 'state'), '--sandbox', 'vqjx-']);
      assert.equal(r.status, 1, cmd);
      assert.equal(r.stderr, `voltron ${cmd}: needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN missing): it reads and changes network namespaces. Run it as root, e.g. \`sudo voltron ${cmd} ...\`; \`voltron validate\` needs no privileges.\n`);
    }
    // Without a sandbox NET_ADMIN is the one that is always needed.
    const plain = asNobody(['plan', '-c', dir, '--state-dir', path.join(dir, 'state')]);
    assert.equal(plain.stderr, `voltron plan: needs root (CAP_NET_ADMIN missing): it reads and changes network namespaces. Run it as root, e.g. \`sudo voltron plan ...\`; \`voltron validate\` needs no privileges.\n`);
    // NET_ADMIN without SYS_ADMIN, with a sandbox (VOLTRON_SANDBOX too): refused up front, not "setns: EPERM" from inside the plan.
    const capsh = (args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync('capsh', ['--drop=cap_sys_admin', '--', '-c', '"$@"', 'sh', process.execPath, BIN, ...args], { encoding: 'utf8', cwd: dir, env });
    const hasCapsh = spawnSync('capsh', ['--print'], { encoding: 'utf8' }).status === 0;
    for (const r of hasCapsh ? [capsh(['plan', '-c', dir, '--state-dir', path.join(dir, 'state'), '--sandbox', 'vqjx-']), capsh(['plan', '-c', dir, '--state-dir', path.join(dir, 'state')], { ...process.env, VOLTRON_SANDBOX: 'vqjx-' })] : []) {
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, "voltron plan: needs root (CAP_SYS_ADMIN missing for --sandbox): it reads and changes network namespaces. Run it as root, e.g. `sudo voltron plan ...`; `voltron validate` needs no privileges.\n");
    }
    assert.deepEqual(fs.readdirSync(dir), ['base.yaml'], 'nothing was written');
    // validate needs no privileges (its cache is skipped where the state dir cannot be written).
    const v = asNobody(['validate', '-c', dir, '--state-dir', path.join(dir, 'state')]);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(asNobody(['plan', '--help']).status, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing config dir, a file given as -c and a dir without yaml files each say what to do (raw ENOENT/ENOTDIR before)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-usage-'));
  try {
    const state = path.join(dir, 'state');
    const missing = run(['validate', '-c', path.join(dir, 'net'), '--state-dir', state]);
    assert.equal(missing.status, 1);
    assert.equal(missing.stdout, '', 'no line about the host overlay of a directory that does not exist');
    assert.match(missing.stderr, /cannot read config directory: '\S+\/net' does not exist \(give the config directory with -c DIR; default: the current directory\)/);
    fs.writeFileSync(path.join(dir, 'net.yaml'), 'links: []\n');
    const file = run(['validate', '-c', path.join(dir, 'net.yaml'), '--state-dir', state]);
    assert.equal(file.status, 1);
    assert.ok(file.stderr.includes(`net.yaml' is a file, not a directory (-c takes the directory holding the *.yaml files: ${dir})`), file.stderr);
    fs.mkdirSync(path.join(dir, 'empty'));
    const empty = spawnSync(process.execPath, [BIN, 'validate', '--state-dir', state], { encoding: 'utf8', cwd: path.join(dir, 'empty') });
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /no \*\.yaml or \*\.yml files in config directory \.: give the config directory with -c DIR \(default: the current directory\); to remove everything Voltron owns, run 'voltron destroy'/);
    // The YAML is one level down (`voltron validate` run from the repository root): name it.
    fs.mkdirSync(path.join(dir, 'empty', 'net'));
    fs.writeFileSync(path.join(dir, 'empty', 'net', 'links.yaml'), 'links: []\n');
    const below = spawnSync(process.execPath, [BIN, 'validate', '--state-dir', state], { encoding: 'utf8', cwd: path.join(dir, 'empty') });
    assert.equal(below.status, 1);
    assert.match(below.stderr, /no \*\.yaml or \*\.yml files in config directory \.: net\/ has some: use -c net;/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('run before a build, bin/voltron says to build first (a MODULE_NOT_FOUND stack trace)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-unbuilt-'));
  try {
    fs.cpSync(path.join(repoRoot(), 'bin'), path.join(dir, 'bin'), { recursive: true });
    const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'voltron'), '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `voltron: not built yet (no ${path.join(dir, 'dist', 'src', 'cli', 'main.js')}): run \`npm run build\` in ${dir} first\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a command's --help lists only the global options it uses, as docs/cli.md's table says (validate and version listed --sandbox, --no-recover, --allow-map-reset ...)", () => {
  const { COMMANDS } = require(path.join(repoRoot(), 'dist', 'src', 'cli', 'commands.js')) as typeof import('../../src/cli/commands');
  const { GLOBAL_OPTIONS } = require(path.join(repoRoot(), 'dist', 'src', 'cli', 'common.js')) as typeof import('../../src/cli/common');
  const doc = fs.readFileSync(path.join(repoRoot(), 'docs', 'cli.md'), 'utf8');
  const listed = (help: string): string[] => [...help.matchAll(/^ {2}(?:-\w, | {4})--([\w-]+)/gm)].map((m) => m[1]!);
  for (const c of COMMANDS) {
    const r = run([c.name, '--help']);
    assert.equal(r.status, 0, c.name);
    const globals = listed(r.stdout).filter((o) => GLOBAL_OPTIONS.some((g) => g.name === o));
    // The docs table: "| `-c, --config DIR` | `validate`, `plan` ... |", "all", "all but `version`".
    const documented = GLOBAL_OPTIONS.filter((g) => {
      const row = doc.split('\n').find((l) => l.startsWith('| `') && l.split('|')[1]!.includes(`--${g.name}`));
      assert.ok(row, `--${g.name} has no row in docs/cli.md's global options`);
      const cmds = row.split('|')[2]!.trim();
      if (cmds === 'all') return true;
      const named = [...cmds.matchAll(/`([a-z]+)`/g)].map((m) => m[1]!);
      return cmds.startsWith('all but') ? !named.includes(c.name) : named.includes(c.name);
    }).map((g) => g.name);
    assert.deepEqual(globals.sort(), documented.sort(), `${c.name} --help`);
  }
  const validate = listed(run(['validate', '--help']).stdout);
  for (const o of ['sandbox', 'no-recover', 'allow-map-reset', 'no-color']) assert.ok(!validate.includes(o), `validate --help lists --${o}`);
  assert.deepEqual(listed(run(['version', '--help']).stdout), ['help', 'version']);
  // Still accepted (and ignored) where they do nothing: one set of options serves every command.
  const r = run(['version', '--sandbox', 'x', '--no-recover', '-c', 'nowhere']);
  assert.equal(r.status, 0, r.stderr);
});
