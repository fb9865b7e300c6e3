/**
 * `ecapture zsh` against an interactive `zsh -f -i` typed into through tmux: the shared suite of shell-suite.ts,
 * plus this module's bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { canRunBpf } from './harness.js';
import { shellSuite } from './shell-suite.js';

const suite = shellSuite({
  shell: 'zsh',
  argv: ['zsh', '-f', '-i'],
  syntaxError: { retval: 1, message: 'a parse error: not run, $? = 1' },
});

test('zsh: bad input is one clear error line', async (t) => {
  if (!canRunBpf(t)) return;
  const { run, CLI } = await import('./harness.js');
  const missing = await run(process.execPath, [CLI, 'zsh', '--zsh', join(suite.dir(), 'no-such-zsh')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /--zsh .*no-such-zsh: no such file/);
  const notZsh = await run(process.execPath, [CLI, 'zsh', '--zsh', '/bin/true']);
  assert.notEqual(notZsh.code, 0);
  assert.match(notZsh.stderr, /symbol zleentry not found in \/bin\/true/);
});
