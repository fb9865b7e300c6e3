/**
 * The secrets a TLS module learns from its key events (gnutls, gotls): each new NSS key log line goes into the
 * -k key log file (and, in pcap mode, into the pcapng file as a Decryption Secrets Block, the moment it is
 * new, so that held packets of its connection follow it) and becomes a KeyRecord; repeats are counted only.
 */
import type { ModuleContext } from '../../registry.js';
import type { KeyRecord, ModuleName } from '../../model/records.js';
import type { EventHdr } from '../../gen/events.js';
import type { PcapngWriter } from '../../output/pcapng/writer.js';
import { KeylogWriter, type KeylogEntry } from '../../tls/keylog.js';
import { whoOf } from './tls-data.js';

export class KeyLog {
  /** key events (decoded or short), lines new or repeated, events that gave no line */
  readonly counters = { events: 0, keys: 0, duplicates: 0, rejected: 0, short: 0 };
  private writer: KeylogWriter | undefined;
  private ctx: ModuleContext | undefined;
  private path = '';

  constructor(private readonly module: ModuleName) {}

  /** Open the key log file (keylog and pcap modes); `pcap` also gets every new line. Until then add() does nothing. */
  open(path: string, ctx: ModuleContext, pcap?: PcapngWriter): void {
    this.path = path;
    this.ctx = ctx;
    this.writer = new KeylogWriter({ path, ...(pcap ? { onLine: (line: string) => pcap.addSecrets(line) } : {}) });
  }

  /** A key event as decoded: counted, as short when it did not decode (then undefined). */
  event<E>(decoded: E | undefined): E | undefined {
    if (decoded) this.counters.events++;
    else this.counters.short++;
    return decoded;
  }

  /** One line of a key event: written and emitted when new, else counted as a duplicate. */
  add(entry: KeylogEntry, hdr: EventHdr): void {
    const ctx = this.ctx;
    if (!this.writer || !ctx) return;
    if (this.writer.add(entry) === undefined) {
      this.counters.duplicates++;
      return;
    }
    this.counters.keys++;
    const rec: KeyRecord = {
      type: 'key',
      ts: ctx.wallClock(hdr.tsNs),
      module: this.module,
      who: whoOf(hdr),
      label: entry.label,
      clientRandom: entry.clientRandom,
      secret: entry.secret,
    };
    if (entry.tlsVersion !== undefined) rec.tlsVersion = entry.tlsVersion;
    ctx.emit(rec);
  }

  /** Close the file (if open), with a "key log written" line. */
  close(): void {
    if (!this.writer) return;
    this.ctx!.log.info('key log written', { keylogfile: this.path, lines: this.writer.linesWritten });
    this.writer.close();
    this.writer = undefined;
  }
}
