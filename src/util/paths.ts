/** Where the built artifacts live, relative to the project root (dist/src/util/paths.js → root). */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');
export const bpfObjectDir = join(projectRoot, 'build', 'bpf');
export const nativeAddonPath = join(projectRoot, 'native', 'build', 'Release', 'ecapture_native.node');

/** Path of a compiled BPF object, e.g. bpfObjectPath('tls/openssl'). */
export function bpfObjectPath(stem: string): string {
  return join(bpfObjectDir, `${stem}.bpf.o`);
}
