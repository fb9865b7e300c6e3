/**
 * Loads the native addon (native/) lazily, so `ecapture --help` and the pure modules never touch libbpf.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { CaptureError } from '../errors.js';
import { nativeAddonPath } from '../util/paths.js';
import type * as Native from '../../native/index.js';

export type NativeModule = typeof Native;
export type { BpfObject, NativeError, MapInfo, ProgramInfo } from '../../native/index.js';

let cached: NativeModule | undefined;

export function native(): NativeModule {
  if (cached) return cached;
  if (!existsSync(nativeAddonPath)) {
    throw new CaptureError('ECAP_INTERNAL', `load native addon: ${nativeAddonPath} is missing`, {
      hint: 'build it with `scripts/setup.sh` (or `make native`)',
    });
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(nativeAddonPath) as NativeModule;
  } catch (cause) {
    throw new CaptureError('ECAP_INTERNAL', `load native addon ${nativeAddonPath}: ${(cause as Error).message}`, {
      cause,
      hint: 'rebuild it with `make -B native` (is libbpf1 installed?)',
    });
  }
  return cached;
}

export function isNativeError(e: unknown): e is Native.NativeError {
  return e instanceof Error && typeof (e as { errno?: unknown }).errno === 'number' && typeof (e as { op?: unknown }).op === 'string';
}
