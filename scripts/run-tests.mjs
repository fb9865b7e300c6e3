#!/usr/bin/env node
// Runs the compiled tests with node's built-in runner.
//   (no flag)  unit tests (dist/src/**, dist/scripts/**), then end-to-end tests (dist/test/e2e/**) one file at a time
//   --unit     unit tests only
//   --e2e      end-to-end tests only
//   any other arguments are file-name filters (substring match), e.g. `node scripts/run-tests.mjs http2`
// End-to-end tests need root and a kernel with BPF; where the kernel cannot run them they skip, unless
// ECAPTURE_E2E_REQUIRED=1 (set by .ci/run), which turns every such skip into a failure.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const args = process.argv.slice(2);
const only = args.includes('--unit') ? 'unit' : args.includes('--e2e') ? 'e2e' : 'all';
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir, out = []) {
  let names;
  try { names = readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (n.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const pick = (files) => files.filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();

const unit = pick([...walk(join(root, 'dist', 'src')), ...walk(join(root, 'dist', 'scripts'))]);
const e2e = pick(walk(join(root, 'dist', 'test')));
let failed = false;
function run(files, extra) {
  if (files.length === 0) return;
  const r = spawnSync(process.execPath, ['--test', ...extra, ...files], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) failed = true;
}
if (only !== 'e2e') run(unit, []);
if (only !== 'unit') run(e2e, ['--test-concurrency=1']);
process.exitCode = failed ? 1 : 0;
