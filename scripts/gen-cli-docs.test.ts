import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from './gen-cli-docs.js';
import { projectRoot } from '../src/util/paths.js';

test('docs/cli.md documents every flag of every command (regenerate with node dist/scripts/gen-cli-docs.js)', () => {
  assert.equal(readFileSync(join(projectRoot, 'docs', 'cli.md'), 'utf8'), render());
});
