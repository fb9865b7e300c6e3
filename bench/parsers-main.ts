/**
 * Run the parser benchmarks alone and print them:
 *   node_modules/.bin/tsc -p tsconfig.json && node --expose-gc dist/bench/parsers-main.js
 */
import { benchParsers } from './parsers.js';

benchParsers().then(
  (results) => {
    for (const r of results) {
      process.stdout.write(`${r.name.padEnd(62)} ${String(r.value).padStart(10)} ${r.unit.padEnd(6)} ${r.target ? `(target ${r.target})` : ''}\n`);
    }
  },
  (e: unknown) => {
    process.stderr.write(`parser bench failed: ${(e as Error).message}\n`);
    process.exitCode = 1;
  },
);
