/**
 * The packet half of the pcap mode of the TLS modules (tls, gnutls, gotls): the interface (-i), the pcap
 * filter, the pcapng file (-w) with its one interface, and the TC packet capture (src/probes/tls/packets.ts)
 * that writes into it. The module adds the secrets it learns with `writer.addSecrets`.
 *
 * Used in the steps of a module's init(): check() (the command line, no side effects), open() (creates the
 * file: a path we cannot write fails before anything is attached), load() (the TC object, nothing attached
 * yet); then start(), drain(), close() (with the "pcapng written" summary).
 */
import { arch, release } from 'node:os';
import type { Config } from '../../config/schema.js';
import type { ModuleContext } from '../../registry.js';
import type { Logger } from '../../log.js';
import { features } from '../../bpf/features.js';
import { native } from '../../bpf/native.js';
import { PcapngWriter, type PcapngWriterStats } from '../../output/pcapng/writer.js';
import { compileFilter, type CompiledFilter } from '../tls/cbpf.js';
import { resolveInterface, type NetInterface } from '../tls/iface.js';
import { PacketCapture, assertTcSupported } from '../tls/packets.js';

/** Largest snap length the packet capture takes (ECAP_MAX_PACKET in bpf/include/events.h). */
export const MAX_SNAPLEN = 65792;

export class PcapSession {
  /** the pcapng file, from open() to close() */
  writer: PcapngWriter | undefined;
  /** the TC capture, from load() to close() */
  packets: PacketCapture | undefined;

  private constructor(
    private readonly module: string,
    readonly iface: NetInterface,
    readonly snaplen: number,
    readonly filter: CompiledFilter | undefined,
  ) {}

  /** Everything about -i, --snaplen and the pcap filter that can be wrong, before anything is created. */
  static check(module: string, config: Config): PcapSession {
    assertTcSupported();
    const iface = resolveInterface(String(config.ifname ?? ''));
    const snaplen = Math.min(Number(config.snaplen ?? 0) || MAX_SNAPLEN, MAX_SNAPLEN);
    const filter = compileFilter(String(config.pcapFilter ?? ''), iface.linkType!, snaplen, {
      compile: (e, dlt, n) => native().pcapCompile(e, dlt, n),
      haveBpfLoop: features.bpfLoop().ok,
      force: process.env.ECAPTURE_PCAP_FILTER,
    });
    return new PcapSession(module, iface, snaplen, filter);
  }

  /** Create the pcapng file with its section header and the one interface. */
  open(path: string, opts: { flushBytes?: number } = {}): PcapngWriter {
    const iface = this.iface;
    const writer = new PcapngWriter({
      path,
      ...(opts.flushBytes !== undefined ? { flushBytes: opts.flushBytes } : {}),
      shb: { hardware: arch(), os: `Linux ${release()}`, userAppl: 'ecapture-ts', comment: `ecapture-ts ${this.module} -m pcap -i ${iface.name}` },
    });
    writer.addInterface({
      linkType: iface.linkType!,
      snaplen: this.snaplen,
      name: iface.name,
      description: `${iface.name} (ifindex ${iface.ifindex})`,
      ...(this.filter ? { filter: this.filter.expr } : {}),
      os: `Linux ${release()}`,
      ifIndex: iface.ifindex,
    });
    this.writer = writer;
    return writer;
  }

  /** Load the TC object (nothing attached until start()). */
  load(config: Config, ctx: ModuleContext): void {
    this.packets = PacketCapture.load({
      config,
      iface: this.iface,
      interfaceId: 0,
      snaplen: this.snaplen,
      ...(this.filter ? { filter: this.filter } : {}),
      writer: this.writer!,
      wallClock: ctx.wallClock,
      log: ctx.log,
    });
  }

  start(): void {
    this.packets?.start();
  }

  drain(): void {
    this.packets?.drain();
  }

  /**
   * Detach the capture and close the file; with `summary`, log what it holds ("pcapng written", or a warning
   * when no packet was captured). The file's counters, or undefined when it was never opened.
   */
  close(log: Logger, summary = true): PcapngWriterStats | undefined {
    const kc = this.packets?.kernelCounters();
    this.packets?.close();
    this.packets = undefined;
    const w = this.writer;
    this.writer = undefined;
    if (!w) return undefined;
    w.close();
    const s = w.stats;
    const line = { pcapfile: w.path, packets: s.packets, secrets_blocks: s.secretsBlocks, released_without_keys: s.releasedWithoutKeys, ...(kc ?? {}) };
    if (!summary) {
      /* init or start failed: the error says why */
    } else if (s.packets === 0) log.warn(`nothing captured on ${this.iface.name}: check the interface (-i) and the filter`, line);
    else log.info('pcapng written', line);
    return s;
  }
}
