// Human and machine renderings of a plan: Terraform-like text, Markdown for PR comments, JSON.
import { fmtField, shownValue } from './format';
import { declaredFields, isImmutable } from './compare';
import type { Change, ChangeAction, FieldChange, Plan } from './types';
import type { VniRange } from '../model/types';
import { rangeItem } from '../util/ranges';

export interface PlanSummary {
  readonly create: number;
  readonly update: number;
  readonly replace: number;
  readonly delete: number;
}

export function summarize(plan: Plan): PlanSummary {
  const n = { create: 0, update: 0, replace: 0, delete: 0 };
  for (const c of plan.changes) n[c.action]++;
  return n;
}

export function summaryLine(plan: Plan): string {
  if (plan.changes.length === 0) return 'No changes. The kernel matches the desired state.';
  const s = summarize(plan);
  return `Plan: ${s.create} to add, ${s.update} to change, ${s.replace} to replace, ${s.delete} to destroy.`;
}

const SIGN: Readonly<Record<ChangeAction, string>> = { create: '  +', update: '  ~', replace: '-/+', delete: '  -' };

const ESC = {
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  reset: '\x1b[0m',
};

function paintSign(a: ChangeAction, color: boolean): string {
  if (!color) return SIGN[a];
  switch (a) {
    case 'create':
      return `  ${ESC.green}+${ESC.reset}`;
    case 'update':
      return `  ${ESC.yellow}~${ESC.reset}`;
    case 'replace':
      return `${ESC.red}-${ESC.reset}/${ESC.green}+${ESC.reset}`;
    case 'delete':
      return `  ${ESC.red}-${ESC.reset}`;
  }
}

/** Creates, and replaces that set every declared field of a fresh object (a cascade), list plain values. */
function isFresh(c: Change): boolean {
  return c.action === 'create' || (c.action === 'replace' && c.fields.every((x) => x.before === undefined));
}

/** This field's change is why the object is replaced (text: `(forces replacement)`; JSON: `forcesReplacement`). */
function forcesReplacement(c: Change, f: FieldChange): boolean {
  return c.action === 'replace' && !isFresh(c) && isImmutable(c.kind, f.field, c.before, c.after);
}

function fieldLine(c: Change, f: FieldChange): { sign: string; text: string } {
  if (isFresh(c)) return { sign: '+', text: `${f.field}: ${fmtField(c.after, f.field, f.after)}` };
  const forces = forcesReplacement(c, f) ? '  (forces replacement)' : '';
  return { sign: '~', text: `${f.field}: ${fmtField(c.before, f.field, f.before)} → ${fmtField(c.after, f.field, f.after)}${forces}` };
}

/** Read-only fields of a live object (how Voltron tells things apart), not what a reviewer declared. */
const READ_ONLY = new Set(['protocol', 'secondary', 'promotes', 'nexthopDevs', 'lower', 'madeIn', 'unmodelled', 'tag', 'veth.primary']);

/**
 * A change's field lines. A prune shows what goes, as Terraform does: a reviewer sees which rule
 * priority 1100 was, not only its key (as last applied; as read when the inventory has no record).
 * A restore (a sysctl's) says its value in the reason.
 */
function fieldLines(c: Change): { sign: string; text: string }[] {
  const gone = c.recorded ?? c.before;
  if (c.action !== 'delete' || c.restore !== undefined || gone === undefined) return c.fields.map((f) => fieldLine(c, f));
  return declaredFields(gone)
    .filter((f) => !READ_ONLY.has(f.field) && !READ_ONLY.has(f.field.split('.')[0]!))
    .map((f) => ({ sign: '-', text: `${f.field}: ${fmtField(gone, f.field, f.after)}` }));
}

function paintField(sign: string, color: boolean): string {
  if (!color) return sign;
  return sign === '+' ? `${ESC.green}+${ESC.reset}` : sign === '-' ? `${ESC.red}-${ESC.reset}` : `${ESC.yellow}~${ESC.reset}`;
}

/** Terraform-like text rendering; ANSI colours only with `color`. */
export function renderText(plan: Plan, opts: { color: boolean }): string {
  const { color } = opts;
  const lines: string[] = [];
  const foreign = [untouchedLine(plan), ...collateralLines(plan), ...releasedLines(plan), ...renamedLines(plan), ...seg6MtuLines(plan), ...sharedSubnetLines(plan)].filter((l) => l !== '').join('\n') || undefined;
  if (plan.changes.length === 0) {
    lines.push(summaryLine(plan));
    if (foreign) lines.push(foreign);
    return `${lines.join('\n')}\n`;
  }
  lines.push('Voltron will perform the following actions, in this order:', '');
  for (const c of plan.changes) {
    const mark = c.disruptive ? (color ? `  ${ESC.bold}${ESC.red}[disruptive]${ESC.reset}` : '  [disruptive]') : '';
    lines.push(`${paintSign(c.action, color)} ${c.label}${mark}`);
    const reason = `# (${c.reason})`;
    lines.push(`      ${color ? `${ESC.dim}${reason}${ESC.reset}` : reason}`);
    for (const { sign, text } of fieldLines(c)) lines.push(`      ${paintField(sign, color)} ${text}`);
    lines.push('');
  }
  const bold = (s: string) => (color ? `${ESC.bold}${s}${ESC.reset}` : s);
  lines.push(bold(summaryLine(plan)));
  if (foreign) lines.push(foreign);
  return `${lines.join('\n')}\n`;
}

function untouchedLine(plan: Plan): string {
  const n = plan.foreignCount;
  return n > 0 ? `${n} live object${n === 1 ? '' : 's'} not owned by Voltron left untouched.` : '';
}

const COLLATERAL_SHOWN = 20;

/** A warning's lines: its heading, then up to COLLATERAL_SHOWN items and how many more. */
function warningLines(items: readonly string[] | undefined, heading: (n: number) => string): string[] {
  const l = items ?? [];
  if (l.length === 0) return [];
  const more = l.length > COLLATERAL_SHOWN ? [`  … and ${l.length - COLLATERAL_SHOWN} more`] : [];
  return [heading(l.length), ...l.slice(0, COLLATERAL_SHOWN).map((x) => `  - ${x}`), ...more];
}

/** Objects Voltron does not own that the kernel removes along with this plan's changes. */
function collateralLines(plan: Plan): string[] {
  return warningLines(plan.foreignRemoved, (n) => `Warning: ${n} live object${n === 1 ? '' : 's'} not owned by Voltron will be removed by the kernel with the changes above:`);
}

/** Links Voltron does not own that leave a bridge this plan deletes or recreates. */
function releasedLines(plan: Plan): string[] {
  return warningLines(
    plan.foreignReleased,
    (n) => `Warning: ${n} live link${n === 1 ? '' : 's'} not owned by Voltron will be released from ${n === 1 ? 'its bridge' : 'their bridges'} by the kernel with the changes above:`,
  );
}

/** Links Voltron created that someone renamed: left alone under their new names. */
function renamedLines(plan: Plan): string[] {
  return warningLines(plan.renamedAway, (n) => {
    const [it, is] = n === 1 ? ['it', 'is'] : ['them', 'are'];
    return `Warning: ${n} link${n === 1 ? '' : 's'} Voltron created ${is} live under another name (renamed by hand); Voltron neither renames nor deletes ${it} (not its own any more), and creates a declared one again beside ${it}:`;
  });
}

/** seg6 encap routes that forwarded packets overflow silently (see seg6-mtu.ts). */
function seg6MtuLines(plan: Plan): string[] {
  return warningLines(plan.seg6MtuGaps, (n) => `Warning: ${n} seg6 encap route${n === 1 ? '' : 's'} silently drop${n === 1 ? 's' : ''} forwarded packets that no longer fit once encapsulated:`);
}

/** Subnets on two links of one namespace (see shared-subnet.ts). */
function sharedSubnetLines(plan: Plan): string[] {
  return warningLines(plan.sharedSubnets, (n) => `Warning: ${n} subnet${n === 1 ? ' is' : 's are'} on two links of one namespace; hosts of ${n === 1 ? 'it' : 'them'} on the second link are not reached:`);
}

const MD_WORD: Readonly<Record<ChangeAction, string>> = { create: 'Create', update: 'Update', replace: 'Replace', delete: 'Delete' };

/**
 * A warning's list item: the object's label as a code span. Foreign names come from the kernel,
 * which allows `*`, `_`, `|`, `<` and backticks in them; as plain text they rendered as markup.
 */
function markdownItem(line: string): string {
  const m = /^ {2}- (.*)$/.exec(line);
  if (!m) return line.replace(/^ {2}/, ''); // "… and N more"
  return `- ${codeSpan(m[1]!)}`;
}

/** Text as a code span, whatever backticks it holds. */
function codeSpan(text: string): string {
  const run = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  const fence = '`'.repeat(run + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/**
 * Markdown for a PR comment: summary table and a fenced ```diff block. `host`: the host overlay
 * the plan is for, named in the heading (one repository for many hosts: a comment per host).
 */
export function renderMarkdown(plan: Plan, opts: { readonly host?: string } = {}): string {
  const out: string[] = [opts.host === undefined ? '### Voltron plan' : `### Voltron plan for host ${codeSpan(opts.host)}`, ''];
  if (plan.changes.length === 0) {
    out.push(summaryLine(plan));
    if (plan.foreignCount > 0) out.push('', `_${untouchedLine(plan)}_`);
    return `${out.join('\n')}\n`;
  }
  const s = summarize(plan);
  const disruptive = plan.changes.filter((c) => c.disruptive).length;
  out.push('| Action | Count |', '| --- | ---: |');
  for (const a of ['create', 'update', 'replace', 'delete'] as const) out.push(`| ${MD_WORD[a]} | ${s[a]} |`);
  out.push(`| **Disruptive** | **${disruptive}** |`, '');
  out.push(summaryLine(plan));
  if (plan.foreignCount > 0) out.push('', `_${untouchedLine(plan)}_`);
  for (const warning of [collateralLines(plan), releasedLines(plan), renamedLines(plan), seg6MtuLines(plan), sharedSubnetLines(plan)]) {
    if (warning.length) out.push('', `**${warning[0]}**`, '', ...warning.slice(1).map(markdownItem));
  }
  const head = `${out.join('\n')}\n\n\`\`\`diff\n`;
  return head + diffBlock(plan, MARKDOWN_LIMIT - head.length);
}

/** GitHub refuses a PR comment over 65 536 characters (UTF-16 units, as String#length counts). */
export const MARKDOWN_LIMIT = 65536;

/** A change's lines in the ```diff block. */
function markdownChangeLines(c: Change): string[] {
  const safe = (t: string) => t.replace(/```/g, "'''");
  // GitHub colours only `+`, `-` and `!` lines of a diff block: updates show as `!` (as tfcmt does).
  const gh = (sign: string) => (sign === '~' ? '!' : sign);
  const sign = c.action === 'create' ? '+' : c.action === 'delete' ? '-' : c.action === 'replace' ? '-/+' : '!';
  const lines = [safe(`${sign} ${c.label}${c.disruptive ? '  [disruptive]' : ''}  # ${c.reason}`)];
  for (const { sign: lineSign, text } of fieldLines(c)) lines.push(safe(`${gh(lineSign)}     ${text}`));
  return lines;
}

/** Room kept for the closing fence and the note on what was left out (a few counts). */
const NOTE_ROOM = 400;

/**
 * The rest of the ```diff block in `budget` characters: whole changes in plan order while they
 * fit, then a note counting what was left out (by action, and the disruptive ones), so a large
 * plan still makes a comment GitHub accepts, and says it is incomplete.
 */
function diffBlock(plan: Plan, budget: number): string {
  const texts = plan.changes.map((c) => `${markdownChangeLines(c).join('\n')}\n`);
  // All of it, when all of it fits with the closing fence (no room kept for a note it needs not).
  if (texts.reduce((n, t) => n + t.length, 0) + 4 <= budget) return `${texts.join('')}\`\`\`\n`;
  const shown: string[] = [];
  let used = 0;
  let i = 0;
  for (; i < texts.length && used + texts[i]!.length + NOTE_ROOM <= budget; i++) {
    shown.push(texts[i]!);
    used += texts[i]!.length;
  }
  const rest = plan.changes.slice(i);
  const n = summarize({ ...plan, changes: rest });
  const parts = (['create', 'update', 'replace', 'delete'] as const).filter((a) => n[a] > 0).map((a) => `${n[a]} to ${a}`);
  const disruptive = rest.filter((c) => c.disruptive).length;
  const note =
    `_${rest.length} more change${rest.length === 1 ? '' : 's'} not shown (${parts.join(', ')}${disruptive ? `; ${disruptive} disruptive` : ''}): ` +
    'a GitHub comment holds at most 65 536 characters; `voltron plan` (text or json) lists every change._';
  return `${shown.join('')}\`\`\`\n\n${note}\n`;
}

/** JSON-safe value: `undefined` becomes null, objects are copied with sorted keys. */
function jsonValue(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) return v.map(jsonValue);
  if (typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) o[k] = jsonValue(x);
    }
    return o;
  }
  return v;
}

/** A field's JSON value; VNI runs in config spelling (`[7, "100-102"]`, as a VNI list always read). */
function fieldJson(field: string, v: unknown): unknown {
  return field === 'vnis' && Array.isArray(v) ? (v as VniRange[]).map(rangeItem) : jsonValue(v);
}

/** Stable, serialisable form of a plan (format_version 1). */
export function planToJson(plan: Plan): object {
  return {
    format_version: 1,
    changes: plan.changes.map((c) => ({
      action: c.action,
      key: c.key,
      kind: c.kind,
      label: c.label,
      reason: c.reason,
      disruptive: c.disruptive,
      fields: c.fields.map((f) => ({ field: f.field, before: fieldJson(f.field, shownValue(c.before, f.field, f.before)), after: fieldJson(f.field, shownValue(c.after, f.field, f.after)), ...(forcesReplacement(c, f) ? { forcesReplacement: true } : {}) })),
      dependsOn: [...c.dependsOn],
      ...(c.createdBy !== undefined ? { createdBy: c.createdBy } : {}),
    })),
    summary: summarize(plan),
    foreign_count: plan.foreignCount,
    foreign_removed: [...(plan.foreignRemoved ?? [])],
    foreign_released: [...(plan.foreignReleased ?? [])],
    renamed_away: [...(plan.renamedAway ?? [])],
    seg6_mtu_gaps: [...(plan.seg6MtuGaps ?? [])],
    shared_subnets: [...(plan.sharedSubnets ?? [])],
  };
}
