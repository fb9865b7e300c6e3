/**
 * pcapng writer for pcap mode: packets from the TC programs plus the TLS secrets from the key probes, in one
 * file Wireshark can decrypt on its own.
 *
 * ORDERING. Wireshark reads a file front to back and uses a Decryption Secrets Block (DSB) only for packets
 * that come after it. The packets of a TLS connection cross the TC hook before the key probe reports that
 * connection's secrets (the secrets exist only once the handshake is done). So:
 *   - callers hand over secrets the moment they have them (addSecrets); the DSB is appended at once, before
 *     anything written later;
 *   - the writer follows TCP flows and reads the client_random of each ClientHello it sees; from that packet on,
 *     the flow's packets are held back (in order) until key log lines for that client_random are complete
 *     (CLIENT_RANDOM, or both *_TRAFFIC_SECRET_0), then released right after the DSB;
 *   - holding is bounded: a flow waits at most `keyWaitMs` (its keys may never come: an untraced process),
 *     and all held packets together at most `maxHeldBytes`; then the oldest flows are released without keys
 *     (counted in stats.releasedWithoutKeys) and later packets of those flows pass straight through;
 *   - other packets (non-TLS, flows whose handshake was not seen) are written in arrival order at once.
 * So every DSB precedes the packets it decrypts whenever the key arrives within the wait, packets of one flow
 * keep their order, and packets of different flows may be out of timestamp order by up to `keyWaitMs`.
 *
 * DURABILITY. Blocks are encoded whole and buffered; the buffer is written (whole blocks only) when it
 * exceeds `flushBytes`, every `flushIntervalMs`, and by close(). close() is synchronous (safe in a SIGINT
 * handler): it releases held packets, appends Interface Statistics Blocks, writes everything and closes the
 * fd, so Ctrl-C leaves a complete, valid file. The file holds secrets: created 0600, never through a symlink.
 */
import { closeSync, writeSync, writevSync } from 'node:fs';
import { arch, release } from 'node:os';
import { CaptureError } from '../../errors.js';
import { parseKeylog } from '../../tls/keylog.js';
import { openSecretFile } from '../../tls/secret-file.js';
import {
  decryptionSecretsBlock, enhancedPacketBlockParts, interfaceDescriptionBlock, interfaceStatisticsBlock, sectionHeaderBlock,
  type InterfaceDescription, type PacketDirection, type ShbOptions,
} from './blocks.js';
import { tcpFlowInfo } from './tls-flow.js';

export interface PcapngWriterOptions {
  path: string;
  shb?: ShbOptions;
  /** O_EXCL: fail if the file exists (default: truncate an existing regular file) */
  exclusive?: boolean;
  /** default 1000; 0 = no timer (call tick() yourself) */
  flushIntervalMs?: number;
  /** default 64 KiB */
  flushBytes?: number;
  /** default 3000 */
  keyWaitMs?: number;
  /** default 64 MiB */
  maxHeldBytes?: number;
  /** milliseconds clock (default Date.now), for tests */
  now?: () => number;
}

export interface PacketInput {
  interfaceId: number;
  /** wall clock, ns since the epoch */
  tsNs: bigint;
  data: Buffer;
  origLen?: number;
  direction?: PacketDirection;
  pid?: number;
  comm?: string;
  comment?: string;
}

export interface PcapngWriterStats {
  packets: number;
  secretsBlocks: number;
  secretLines: number;
  heldPackets: number;
  heldBytes: number;
  releasedWithoutKeys: number;
  bytesWritten: number;
}

interface Flow {
  cr?: string;
  held: Buffer[];
  heldBytes: number;
  since: number;
  gaveUp: boolean;
}

const MAX_FLOWS = 65536;
const MAX_KEYS = 65536;

export function packetComment(p: { pid?: number; comm?: string; comment?: string }): string | undefined {
  const parts: string[] = [];
  if (p.pid) parts.push(`pid=${p.pid}`);
  if (p.comm) parts.push(`comm=${p.comm}`);
  if (p.comment) parts.push(p.comment);
  return parts.length ? parts.join(' ') : undefined;
}

export class PcapngWriter {
  readonly path: string;
  private fd: number | undefined;
  private out: Buffer[] = [];
  private outBytes = 0;
  private readonly ifaces: { linkType: number; ifIndex?: number }[] = [];
  private readonly ifStats = new Map<number, { ifRecv?: bigint; ifDrop?: bigint; osDrop?: bigint }>();
  private readonly flows = new Map<string, Flow>();
  private readonly holding = new Set<string>();
  private readonly keys = new Map<string, Set<string>>();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly opts: Required<Pick<PcapngWriterOptions, 'flushBytes' | 'keyWaitMs' | 'maxHeldBytes'>>;
  private readonly startNs = BigInt(Date.now()) * 1_000_000n;
  private readonly s: PcapngWriterStats = {
    packets: 0, secretsBlocks: 0, secretLines: 0, heldPackets: 0, heldBytes: 0, releasedWithoutKeys: 0, bytesWritten: 0,
  };

  constructor(o: PcapngWriterOptions) {
    this.path = o.path;
    this.now = o.now ?? Date.now;
    this.opts = { flushBytes: o.flushBytes ?? 65536, keyWaitMs: o.keyWaitMs ?? 3000, maxHeldBytes: o.maxHeldBytes ?? 64 << 20 };
    this.fd = openSecretFile(o.path, { mode: 'truncate', exclusive: o.exclusive, what: 'pcapng file' });
    this.emit(sectionHeaderBlock({ hardware: arch(), os: `Linux ${release()}`, userAppl: 'ecapture-ts', ...o.shb }));
    this.flush();
    const every = o.flushIntervalMs ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => this.tick(), every);
      this.timer.unref();
    }
  }

  get stats(): Readonly<PcapngWriterStats> {
    return { ...this.s };
  }

  /** Describe an interface (before its first packet); returns its pcapng interface id (0, 1, …). */
  addInterface(d: InterfaceDescription & { ifIndex?: number }): number {
    this.open();
    this.emit(interfaceDescriptionBlock(d));
    this.ifaces.push({ linkType: d.linkType, ifIndex: d.ifIndex });
    return this.ifaces.length - 1;
  }

  /** pcapng interface id of an OS ifindex, if added with one. */
  interfaceIdForIndex(ifIndex: number): number | undefined {
    const i = this.ifaces.findIndex((x) => x.ifIndex === ifIndex);
    return i < 0 ? undefined : i;
  }

  /** Record counters for the Interface Statistics Block written at close. */
  setInterfaceStats(interfaceId: number, st: { ifRecv?: bigint; ifDrop?: bigint; osDrop?: bigint }): void {
    this.ifStats.set(interfaceId, st);
  }

  /** NSS key log lines, as soon as known. Written as one DSB now; held packets they unlock follow it. */
  addSecrets(lines: string | readonly string[]): void {
    this.open();
    let text = typeof lines === 'string' ? lines : lines.join('\n');
    if (text.trim() === '') return;
    if (!text.endsWith('\n')) text += '\n';
    this.emit(decryptionSecretsBlock(text));
    this.s.secretsBlocks++;
    for (const e of parseKeylog(text)) {
      this.s.secretLines++;
      const cr = e.clientRandom.toString('hex');
      let labels = this.keys.get(cr);
      if (!labels) {
        if (this.keys.size >= MAX_KEYS) this.keys.delete(this.keys.keys().next().value!);
        this.keys.set(cr, (labels = new Set()));
      }
      labels.add(e.label);
    }
    for (const k of [...this.holding]) {
      const f = this.flows.get(k)!;
      if (f.cr && this.keyed(f.cr)) this.release(k, false);
    }
    this.maybeFlush();
  }

  addPacket(p: PacketInput): void {
    this.open();
    const iface = this.ifaces[p.interfaceId];
    if (!iface) throw new CaptureError('ECAP_OUTPUT', `pcapng: packet for unknown interface id ${p.interfaceId}`);
    const comment = packetComment(p);
    // header, the packet bytes as given (not copied: written with writev), trailer
    const parts = enhancedPacketBlockParts({ ...p, comment });
    this.s.packets++;
    const info = tcpFlowInfo(iface.linkType, p.data);
    let f = info ? this.flows.get(info.flow) : undefined;
    if (info && (f || info.clientRandom)) {
      if (!f) {
        if (this.flows.size >= MAX_FLOWS) this.evictFlow();
        f = { held: [], heldBytes: 0, since: 0, gaveUp: false };
        this.flows.set(info.flow, f);
      }
      if (info.clientRandom && info.clientRandom !== f.cr) {
        f.cr = info.clientRandom;
        f.gaveUp = false;
      }
      if (f.held.length > 0 || (f.cr && !f.gaveUp && !this.keyed(f.cr))) {
        if (f.held.length === 0) {
          f.since = this.now();
          this.holding.add(info.flow);
        }
        const blk = parts.length === 1 ? parts[0]! : Buffer.concat(parts); // held: our own copy
        f.held.push(blk);
        f.heldBytes += blk.length;
        this.s.heldPackets++;
        this.s.heldBytes += blk.length;
        if (this.s.heldBytes > this.opts.maxHeldBytes) this.releaseOldest();
        return;
      }
    }
    for (const b of parts) this.emit(b);
    this.maybeFlush();
  }

  /** Release flows that waited too long, then write out. Called by the timer. */
  tick(): void {
    if (this.fd === undefined) return;
    const t = this.now();
    for (const k of [...this.holding]) {
      if (t - this.flows.get(k)!.since >= this.opts.keyWaitMs) this.release(k, true);
    }
    this.flush();
  }

  /** Write buffered blocks (whole blocks only), gathered with writev: no copy into one big buffer. */
  flush(): void {
    if (this.fd === undefined || this.outBytes === 0) return;
    const parts = this.out;
    const total = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    let i = 0;
    try {
      while (i < parts.length) {
        const batch = parts.slice(i, i + 1024); // IOV_MAX
        let n = batch.length === 1 ? writeSync(this.fd, batch[0]!) : writevSync(this.fd, batch);
        while (n > 0 && i < parts.length) {
          const b = parts[i]!;
          if (n >= b.length) {
            n -= b.length;
            i++;
          } else {
            parts[i] = b.subarray(n); // a short write: go on from there
            n = 0;
          }
        }
      }
    } catch (cause) {
      throw new CaptureError('ECAP_OUTPUT', `write pcapng file ${this.path}: ${(cause as Error).message}`, { cause });
    }
    this.s.bytesWritten += total;
  }

  /** Release everything held, append statistics, write and close. Synchronous and idempotent. */
  close(): void {
    if (this.fd === undefined) return;
    if (this.timer) clearInterval(this.timer);
    for (const k of [...this.holding]) this.release(k, !this.keyed(this.flows.get(k)!.cr ?? ''));
    const end = BigInt(Date.now()) * 1_000_000n;
    for (const [id, st] of this.ifStats) {
      this.emit(interfaceStatisticsBlock({ interfaceId: id, tsNs: end, startNs: this.startNs, ...st }));
    }
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  private open(): void {
    if (this.fd === undefined) throw new CaptureError('ECAP_OUTPUT', `pcapng file ${this.path} is closed`);
  }

  private keyed(cr: string): boolean {
    const l = this.keys.get(cr);
    return !!l && (l.has('CLIENT_RANDOM') || (l.has('CLIENT_TRAFFIC_SECRET_0') && l.has('SERVER_TRAFFIC_SECRET_0')));
  }

  private release(flowKey: string, withoutKey: boolean): void {
    const f = this.flows.get(flowKey);
    this.holding.delete(flowKey);
    if (!f) return;
    for (const b of f.held) this.emit(b);
    if (withoutKey) {
      this.s.releasedWithoutKeys += f.held.length;
      f.gaveUp = true;
    }
    this.s.heldPackets -= f.held.length;
    this.s.heldBytes -= f.heldBytes;
    f.held = [];
    f.heldBytes = 0;
  }

  private releaseOldest(): void {
    for (const k of this.holding) {
      if (this.s.heldBytes <= this.opts.maxHeldBytes) break;
      this.release(k, true);
    }
  }

  private evictFlow(): void {
    for (const [k] of this.flows) {
      if (!this.holding.has(k)) {
        this.flows.delete(k);
        return;
      }
    }
  }

  private emit(b: Buffer): void {
    this.out.push(b);
    this.outBytes += b.length;
  }

  private maybeFlush(): void {
    if (this.outBytes >= this.opts.flushBytes) this.flush();
  }
}
