/** Where the built artifacts live, relative to the project root (dist/src/util/paths.js → root). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The directory holding package.json: walked up to from this file, which lives at dist/src/util/paths.js
 * when running from the compiled tree and inside dist/ecapture.mjs when running from the CLI bundle.
 */
function findRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'native'))) return d;
    d = dirname(d);
  }
  return join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
}

export const projectRoot = findRoot();
export const bpfObjectDir = join(projectRoot, 'build', 'bpf');
export const nativeAddonPath = join(projectRoot, 'native', 'build', 'Release', 'ecapture_native.node');

/** Path of a compiled BPF object, e.g. bpfObjectPath('tls/openssl'). */
export function bpfObjectPath(stem: string): string {
  return join(bpfObjectDir, `${stem}.bpf.o`);
}
