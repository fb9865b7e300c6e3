/**
 * `ecapture bash` against an interactive bash (`bash --norc -i`) typed into through tmux: the shared suite of shell-suite.ts,
 * plus this module's bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { canRunBpf } from './harness.js';
import { shellSuite } from './shell-suite.js';

const suite = shellSuite({
  shell: 'bash',
  argv: ['HISTFILE=/dev/null', 'bash', '--norc', '-i'],
  syntaxError: { retval: 2, message: 'a syntax error: not run, $? = 2' },
});

test('bash: bad input is one clear error line', async (t) => {
  if (!canRunBpf(t)) return;
  const { run, CLI } = await import('./harness.js');
  const missing = await run(process.execPath, [CLI, 'bash', '--bash', join(suite.dir(), 'no-such-bash')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /--bash .*no-such-bash: no such file/);
  const noRl = await run(process.execPath, [CLI, 'bash', '--bash', '/bin/true']);
  assert.notEqual(noRl.code, 0);
  assert.match(noRl.stderr, /symbol readline not found in \/bin\/true/);
  assert.match(noRl.stderr, /--readlineso/);
  const badE = await run(process.execPath, [CLI, 'bash', '-e', '300']);
  assert.notEqual(badE.code, 0);
  assert.match(badE.stderr, /errnumber|300/);
});
