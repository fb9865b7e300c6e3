/**
 * The keys half of keylog and pcap modes: master_secret_event samples (bpf/lib/openssl_keys.bpf.h) become NSS
 * key log entries, which go (1) to the key log file (appended, 0600, no symlinks, one write per line, so it is
 * complete and readable at any moment), (2) to the pcapng writer as Decryption Secrets Blocks, and (3) to the
 * pipeline as KeyRecords, so every other output sees them too. Duplicates (same label and client_random) are
 * dropped once, here, for all three.
 */
import { EventKind, MsFlags, decodeMasterSecretEvent, type MasterSecretEvent } from '../../gen/events.js';
import type { CaptureRecord, KeyRecord } from '../../model/records.js';
import { KeylogWriter, masterSecretEntries, type KeylogEntry, type MasterSecretInput } from '../../tls/keylog.js';
import { whoOf } from '../common/tls-data.js';

/** The input of masterSecretEntries for one kernel event. */
export function masterSecretInput(e: MasterSecretEvent): MasterSecretInput {
  const bssl = (e.msFlags & MsFlags.MS_BORINGSSL) !== 0;
  const input: MasterSecretInput = {
    version: e.version,
    clientRandom: e.clientRandom,
    masterKey: e.masterKey,
    cipherId: e.cipherId,
  };
  if (e.hashLen === 32 || e.hashLen === 48) input.hashLen = e.hashLen;
  if (bssl) {
    // BoringSSL keeps the traffic secrets themselves; early_secret carries early_traffic_secret_ (0-RTT)
    input.earlyTrafficSecret = e.earlySecret;
    input.clientHandshakeSecret = e.clientHandshakeSecret;
    input.serverHandshakeSecret = e.serverHandshakeSecret;
  } else {
    // OpenSSL: the early secret is not a traffic secret and is never written; handshake traffic secrets are
    // derived from handshake_secret and Hash(ClientHello..ServerHello)
    input.earlySecret = e.earlySecret;
    input.handshakeSecret = e.handshakeSecret;
    input.handshakeTrafficHash = e.handshakeTrafficHash;
  }
  input.clientAppTrafficSecret = e.clientAppTrafficSecret;
  input.serverAppTrafficSecret = e.serverAppTrafficSecret;
  input.exporterMasterSecret = e.exporterMasterSecret;
  return input;
}

/** Key log entries of one sample (empty for a sample that is not a usable master-secret event). */
export function entriesOfSample(sample: Buffer): { event: MasterSecretEvent; entries: KeylogEntry[] } | undefined {
  if (sample.length < 4 || sample.readUInt32LE(0) !== EventKind.EVENT_MASTER_SECRET) return undefined;
  const e = decodeMasterSecretEvent(sample);
  if (!e) return undefined;
  return { event: e, entries: masterSecretEntries(masterSecretInput(e)) };
}

export interface KeySinkCounters {
  events: number;
  lines: number;
  duplicates: number;
  /** events that gave no key log line (unknown version, all-zero secrets) */
  empty: number;
  short: number;
}

export interface KeySinkOptions {
  /** key log file (-k); undefined = none */
  path?: string;
  /** also called with every new line (the pcapng writer's DSBs) */
  onLines?: (lines: string[]) => void;
  wallClock: (monoNs: number) => bigint;
  emit: (rec: CaptureRecord) => void;
  /** lib_id → "openssl 3.0.22" (for nothing but the record's who) */
  libs?: Map<number, string>;
}

/** Turns master-secret samples into key log lines, DSBs and KeyRecords, once each. */
export class KeySink {
  readonly counters: KeySinkCounters = { events: 0, lines: 0, duplicates: 0, empty: 0, short: 0 };
  private readonly writer: KeylogWriter;

  constructor(private readonly o: KeySinkOptions) {
    this.writer = new KeylogWriter(o.path !== undefined ? { path: o.path } : {});
  }

  /** Handle one ring-buffer sample of kind EVENT_MASTER_SECRET. */
  handle(sample: Buffer): void {
    const r = entriesOfSample(sample);
    if (!r) {
      this.counters.short++;
      return;
    }
    this.counters.events++;
    if (r.entries.length === 0) {
      this.counters.empty++;
      return;
    }
    const lines: string[] = [];
    const fresh: KeylogEntry[] = [];
    for (const entry of r.entries) {
      const line = this.writer.add(entry);
      if (line === undefined) {
        this.counters.duplicates++;
        continue;
      }
      lines.push(line);
      fresh.push(entry);
    }
    if (lines.length === 0) return;
    this.counters.lines += lines.length;
    // the DSB first: held packets of this connection are released right after it
    this.o.onLines?.(lines);
    const ts = this.o.wallClock(r.event.hdr.tsNs);
    const who = whoOf(r.event.hdr);
    for (const entry of fresh) {
      const rec: KeyRecord = { type: 'key', ts, module: 'tls', who, label: entry.label, clientRandom: entry.clientRandom, secret: entry.secret };
      if (entry.tlsVersion !== undefined) rec.tlsVersion = entry.tlsVersion;
      this.o.emit(rec);
    }
  }

  close(): void {
    this.writer.close();
  }
}
