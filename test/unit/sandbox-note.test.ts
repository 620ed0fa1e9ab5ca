// A sandboxed plan names namespaces as the config does; the note says what they are called in the
// kernel, so a user can look at the result with `ip -n`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sandboxNote } from '../../src/cli/output';
import { KernelSession } from '../../src/kernel/session';

test('the sandbox note maps (root) and the first declared namespaces to their prefixed names', () => {
  const s = new KernelSession({ sandbox: 'sbx-' });
  assert.equal(
    sandboxNote(s, ['', 'a', 'b']),
    'Sandbox sbx-: (root) is sbx-root, a is sbx-a, b is sbx-b (namespaces as named in the kernel); look with `ip -n sbx-root link`.',
  );
  const many = sandboxNote(s, ['', 'n1', 'n2', 'n3', 'n4', 'n5']) ?? '';
  assert.match(many, /\(root\) is sbx-root, n1 is sbx-n1, n2 is sbx-n2, n3 is sbx-n3, … \(/);
  assert.doesNotMatch(many, /n4/);
});

test('without a sandbox there is no note (namespaces are what the config says)', () => {
  assert.equal(sandboxNote(new KernelSession({}), ['', 'a']), undefined);
});
