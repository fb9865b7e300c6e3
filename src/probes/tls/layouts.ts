/**
 * Which struct layout each hooked file gets (keylog and pcap modes): the library's version from its .rodata
 * string (or its libcrypto's), eCapture's fallback rules, --ssl_version to force one (src/tls/openssl-version.ts),
 * cached on disk per file identity like the target inspection. The result is written to the object's
 * lib_layouts map under the file's attach cookie before its probes are attached (bpf/lib/openssl_keys.bpf.h).
 */
import { FileCache } from '../../discovery/file-cache.js';
import { encodeLibOffsets, type LibOffsets } from '../../tls/lib-offsets.js';
import { layoutDisplayName } from '../../tls/offsets-table.js';
import { resolveTlsLibrary } from '../../tls/openssl-version.js';

export interface TargetLayout {
  /** layout key in offsets/openssl.json */
  layout: string;
  offsets: LibOffsets;
  exact: boolean;
  /** "openssl 3.0.22", "boringssl", or undefined when no version was found */
  version?: string;
  kind: 'openssl' | 'boringssl';
  /** set when the version could not be placed exactly: names the version and the layout used */
  warning?: string;
  reason: string;
  /** the library's accessor functions were read and agree with the layout (none disagrees) */
  accessorsAgree: boolean;
}

let disk: FileCache<TargetLayout> | undefined;
const memo = new Map<string, TargetLayout>();

/** Resolve (and cache) the layout of a hooked file. Throws a ConfigError for a --ssl_version it does not understand. */
export function layoutForFile(path: string, forceVersion: string | undefined): TargetLayout {
  const fkey = FileCache.keyOf(path);
  const ck = `${fkey ?? path}:${forceVersion ?? ''}`;
  const hit = memo.get(ck);
  if (hit) return hit;
  disk ??= new FileCache<TargetLayout>('ssl-layouts-v2');
  const persisted = fkey ? disk.get(ck) : undefined;
  if (persisted) {
    memo.set(ck, persisted);
    return persisted;
  }
  const { detected, selection } = resolveTlsLibrary(path, forceVersion ? { forceVersion } : {});
  const out: TargetLayout = {
    layout: selection.layout,
    offsets: selection.offsets,
    exact: selection.exact,
    kind: selection.kind,
    reason: selection.reason,
    accessorsAgree: (selection.check?.checked.length ?? 0) > 0 && (selection.check?.mismatches.length ?? 1) === 0,
  };
  if (detected.version) out.version = detected.version;
  else if (detected.kind === 'boringssl') out.version = 'boringssl';
  if (selection.warning) out.warning = selection.warning;
  memo.set(ck, out);
  if (fkey) {
    disk.set(ck, out);
    disk.save();
  }
  return out;
}

/** One line for the log: "openssl 3.0.22 → openssl_3_0_0 layout (exact version 3.0.22)". */
export function describeLayout(l: TargetLayout): string {
  return `${l.version ?? l.kind} -> ${layoutDisplayName(l.layout)} layout (${l.reason})`;
}

/** Map key/value for lib_layouts. */
export function layoutMapEntry(libId: number, l: TargetLayout): { key: Buffer; value: Buffer } {
  const key = Buffer.alloc(4);
  key.writeUInt32LE(libId);
  return { key, value: encodeLibOffsets(l.offsets) };
}
