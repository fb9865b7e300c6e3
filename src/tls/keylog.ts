/**
 * TLS secrets → NSS key log lines (https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/).
 *
 * `masterSecretEntries` turns one decoded master-secret event (OpenSSL/BoringSSL probe) into key log entries;
 * `KeylogWriter` formats, de-duplicates and (optionally) appends them to a file, one write(2) per line, so the
 * file is complete up to the last line at any moment and can be read (e.g. by Wireshark) while capturing.
 */
import { closeSync, writeSync } from 'node:fs';
import { CaptureError } from '../errors.js';
import { deriveHandshakeTrafficSecrets, hashLength, tls13HashForCipher } from './hkdf.js';
import { openSecretFile } from './secret-file.js';

export const TLS1_2_VERSION = 0x0303;
export const TLS1_3_VERSION = 0x0304;

export type KeylogLabel =
  | 'CLIENT_RANDOM'
  | 'CLIENT_EARLY_TRAFFIC_SECRET'
  | 'CLIENT_HANDSHAKE_TRAFFIC_SECRET'
  | 'SERVER_HANDSHAKE_TRAFFIC_SECRET'
  | 'CLIENT_TRAFFIC_SECRET_0'
  | 'SERVER_TRAFFIC_SECRET_0'
  | 'EXPORTER_SECRET';

/** One key log line's content (a KeyRecord without who/when). */
export interface KeylogEntry {
  label: KeylogLabel | string;
  clientRandom: Buffer;
  secret: Buffer;
  tlsVersion?: number;
}

/**
 * A decoded master-secret event. Fixed-size arrays come as the kernel copied them (64 bytes for TLS 1.3 secrets,
 * only the first hash-length bytes meaningful). Absent or all-zero secrets are skipped.
 */
export interface MasterSecretInput {
  /** protocol version from the SSL object: 0x0301..0x0303 → CLIENT_RANDOM, 0x0304 → TLS 1.3 secrets */
  version: number;
  clientRandom: Buffer; // 32
  masterKey: Buffer; // 48 (TLS ≤ 1.2)
  /** cipher suite id (OpenSSL's 0x0300xxxx form is fine) */
  cipherId: number;
  /** hash length when the library reports it (BoringSSL hs->hash_len); else taken from cipherId */
  hashLen?: number;
  /** OpenSSL's early_secret: not a traffic secret, never written (needs Hash(ClientHello) to become one) */
  earlySecret?: Buffer;
  /** BoringSSL's early_traffic_secret_ (0-RTT), written as CLIENT_EARLY_TRAFFIC_SECRET when non-zero */
  earlyTrafficSecret?: Buffer;
  handshakeSecret?: Buffer;
  /** Hash(ClientHello..ServerHello), as OpenSSL keeps it */
  handshakeTrafficHash?: Buffer;
  /** BoringSSL keeps the handshake traffic secrets themselves */
  clientHandshakeSecret?: Buffer;
  serverHandshakeSecret?: Buffer;
  clientAppTrafficSecret?: Buffer;
  serverAppTrafficSecret?: Buffer;
  exporterMasterSecret?: Buffer;
}

export function isAllZero(b: Buffer | undefined): boolean {
  if (!b || b.length === 0) return true;
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * Hash length of a TLS 1.3 event: the library's own value, else the cipher suite's hash, else a guess from the
 * secrets' trailing zero bytes (OpenSSL zero-fills its 64-byte arrays): 48 if any byte 32..47 is set, else 32.
 */
export function tls13HashLen(ev: MasterSecretInput): number {
  if (ev.hashLen === 32 || ev.hashLen === 48) return ev.hashLen;
  const h = tls13HashForCipher(ev.cipherId);
  if (h) return hashLength(h);
  const secrets = [ev.clientAppTrafficSecret, ev.serverAppTrafficSecret, ev.exporterMasterSecret, ev.handshakeSecret];
  return secrets.some((s) => s && s.length >= 48 && !isAllZero(s.subarray(32, 48))) ? 48 : 32;
}

/** Key log entries for one master-secret event, in the order Wireshark needs them (handshake secrets first). */
export function masterSecretEntries(ev: MasterSecretInput): KeylogEntry[] {
  const cr = ev.clientRandom.subarray(0, 32);
  if (cr.length !== 32 || isAllZero(cr)) return [];
  const out: KeylogEntry[] = [];
  const push = (label: KeylogLabel, secret: Buffer | undefined, len: number): void => {
    if (!secret || secret.length < len) return;
    const s = secret.subarray(0, len);
    if (!isAllZero(s)) out.push({ label, clientRandom: Buffer.from(cr), secret: Buffer.from(s), tlsVersion: ev.version });
  };
  if (ev.version !== TLS1_3_VERSION) {
    if (ev.version < 0x0300 || ev.version > TLS1_2_VERSION) return [];
    push('CLIENT_RANDOM', ev.masterKey, 48);
    return out;
  }
  const n = tls13HashLen(ev);
  push('CLIENT_EARLY_TRAFFIC_SECRET', ev.earlyTrafficSecret, n);
  let chs = ev.clientHandshakeSecret;
  let shs = ev.serverHandshakeSecret;
  if ((isAllZero(chs) || isAllZero(shs)) && !isAllZero(ev.handshakeSecret) && !isAllZero(ev.handshakeTrafficHash)) {
    const cipher = n === 48 ? 0x1302 : 0x1301; // only the hash matters for the derivation
    const d = deriveHandshakeTrafficSecrets(cipher, ev.handshakeSecret!, ev.handshakeTrafficHash!);
    if (d) {
      if (isAllZero(chs)) chs = d.client;
      if (isAllZero(shs)) shs = d.server;
    }
  }
  push('CLIENT_HANDSHAKE_TRAFFIC_SECRET', chs, n);
  push('SERVER_HANDSHAKE_TRAFFIC_SECRET', shs, n);
  push('CLIENT_TRAFFIC_SECRET_0', ev.clientAppTrafficSecret, n);
  push('SERVER_TRAFFIC_SECRET_0', ev.serverAppTrafficSecret, n);
  push('EXPORTER_SECRET', ev.exporterMasterSecret, n);
  return out;
}

/** `<LABEL> <client_random hex> <secret hex>\n` */
export function formatKeylogLine(e: KeylogEntry): string {
  return `${e.label} ${e.clientRandom.toString('hex')} ${e.secret.toString('hex')}\n`;
}

/** Parse key log text back into entries (comments and malformed lines are skipped). */
export function parseKeylog(text: string): KeylogEntry[] {
  const out: KeylogEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Z_0-9]+) ([0-9a-fA-F]{64}) ([0-9a-fA-F]+)\s*$/.exec(line);
    if (m) out.push({ label: m[1]!, clientRandom: Buffer.from(m[2]!, 'hex'), secret: Buffer.from(m[3]!, 'hex') });
  }
  return out;
}

export interface KeylogWriterOptions {
  /** append to this file (created 0600; a symlink in its place is refused) */
  path?: string;
  /** or write to this already open descriptor (e.g. 1 for stdout); not closed by close() */
  fd?: number;
  /** also hand every new line to this callback (e.g. the pcapng writer's DSB) */
  onLine?: (line: string, entry: KeylogEntry) => void;
  /** how many label+client_random keys to remember for de-duplication (oldest forgotten first) */
  dedupLimit?: number;
}

/** Open a key log file for appending (see secret-file.ts: 0600, no symlinks, no hard links). */
export function openSecretsFileForAppend(path: string): number {
  return openSecretFile(path, { mode: 'append', what: 'key log file' });
}

export class KeylogWriter {
  private fd: number | undefined;
  private readonly ownsFd: boolean;
  private readonly seen = new Set<string>();
  private readonly dedupLimit: number;
  private readonly onLine: KeylogWriterOptions['onLine'];
  private lines = 0;
  private dups = 0;

  constructor(opts: KeylogWriterOptions = {}) {
    this.dedupLimit = opts.dedupLimit ?? 1_000_000;
    this.onLine = opts.onLine;
    if (opts.path !== undefined) {
      this.fd = openSecretsFileForAppend(opts.path);
      this.ownsFd = true;
    } else {
      this.fd = opts.fd;
      this.ownsFd = false;
    }
  }

  /** Lines accepted (new, written) so far. */
  get linesWritten(): number {
    return this.lines;
  }

  /** Entries dropped as duplicates so far. */
  get duplicates(): number {
    return this.dups;
  }

  has(label: string, clientRandom: Buffer): boolean {
    return this.seen.has(`${label} ${clientRandom.toString('hex')}`);
  }

  /** Add one entry: returns its line if it was new (and writes it at once), undefined for a duplicate. */
  add(e: KeylogEntry): string | undefined {
    const key = `${e.label} ${e.clientRandom.toString('hex')}`;
    if (this.seen.has(key)) {
      this.dups++;
      return undefined;
    }
    this.seen.add(key);
    if (this.seen.size > this.dedupLimit) this.seen.delete(this.seen.values().next().value!);
    const line = formatKeylogLine(e);
    if (this.fd !== undefined) writeFully(this.fd, Buffer.from(line, 'latin1'));
    this.lines++;
    this.onLine?.(line, e);
    return line;
  }

  /** Add many; returns the new lines. */
  addAll(entries: Iterable<KeylogEntry>): string[] {
    const out: string[] = [];
    for (const e of entries) {
      const l = this.add(e);
      if (l !== undefined) out.push(l);
    }
    return out;
  }

  /** Convenience: the entries of one master-secret event. */
  addMasterSecret(ev: MasterSecretInput): string[] {
    return this.addAll(masterSecretEntries(ev));
  }

  close(): void {
    if (this.fd !== undefined && this.ownsFd) closeSync(this.fd);
    this.fd = undefined;
  }
}

function writeFully(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw new CaptureError('ECAP_OUTPUT', `write key log: ${(cause as Error).message}`, { cause });
    }
  }
}
