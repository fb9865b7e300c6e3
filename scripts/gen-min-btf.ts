/**
 * Generate the minimal CO-RE BTF cache (src/bpf/btf-cache.ts) for every built BPF object on this kernel,
 * so that even the first capture starts quickly. Run by scripts/setup.sh after a build; quiet, and never
 * fails the build: without bpftool or kernel BTF the objects simply load against the kernel's BTF.
 *   node dist/scripts/gen-min-btf.js
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { generateMinBtf } from '../src/bpf/btf-cache.js';
import { bpfObjectDir } from '../src/util/paths.js';

function objects(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? objects(join(dir, e.name)) : e.name.endsWith('.bpf.o') ? [join(dir, e.name)] : [],
  );
}

const all = objects(bpfObjectDir).map((p) => ({ path: p, stem: relative(bpfObjectDir, p).replace(/\.bpf\.o$/, '') }));
const made = await Promise.all(all.map((o) => generateMinBtf(o.stem, o.path)));
const ok = made.filter((p) => p !== undefined).length;
process.stdout.write(`min BTF cache: ${ok}/${all.length} objects\n`);
