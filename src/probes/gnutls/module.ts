/**
 * The `gnutls` module: finds the GnuTLS libraries, loads the one gnutls.bpf.o and attaches, per target file
 * (attach cookie = target id):
 *   text mode:   entry/return probes on gnutls_record_send/_send2/_recv/_recv_seq, and gnutls_deinit;
 *   keylog mode: the key log hook (_gnutls_call_keylog_func) or, as a fallback, gnutls_handshake entry/return,
 *                with the file's session layout in the gnutls_layouts map; secrets become KeyRecords and lines
 *                of the -k key log file;
 *   pcap mode:   keylog mode plus the tls module's packet capture (TC on -i, pcap filter, process attribution):
 *                a pcapng file (-w) with the secrets as Decryption Secrets Blocks ahead of the packets.
 * Programs started later are hooked through the exec watcher. Each module hooks only its own library's
 * functions, so a program that maps several TLS libraries (Debian's curl maps libssl and libgnutls) is
 * reported once, by the module of the library it actually uses.
 */
import { CaptureError } from '../../errors.js';
import type { ModuleContext, ModuleStats } from '../../registry.js';
import { LoadedObject, type OpenOptions } from '../../bpf/object.js';
import { decodeGnutlsKeylogEvent, decodeGnutlsSecretsEvent, GnutlsEventKind } from '../../gen/events.js';
import { TlsDataDecoder } from '../common/tls-data.js';
import { baseLoadOptions, IO_HOOK_PROGRAMS } from '../common/load.js';
import { findLibraryTargets } from '../common/initial-targets.js';
import { KeyLog } from '../common/key-log.js';
import { PcapSession } from '../common/pcap-session.js';
import { type HookedTarget, TlsCaptureModule, uprobeTable, type UprobePrograms } from '../common/tls-module.js';
import { encodeLayout } from './layout.js';
import { keylogHookEntry, sessionSecretsEntries } from './keys.js';
import { gnutlsFinder, keyPlan, parseForcedVersion, type GnutlsFunc, type GnutlsTarget, type KeyPlan, type KeySource } from './targets.js';

const DATA_PROGRAMS: Partial<Record<GnutlsFunc, UprobePrograms>> = {
  gnutls_record_send: { entry: 'uprobe_gnutls_record_send', ret: 'uretprobe_gnutls_record_send' },
  gnutls_record_send2: { entry: 'uprobe_gnutls_record_send2', ret: 'uretprobe_gnutls_record_send2' },
  gnutls_record_recv: { entry: 'uprobe_gnutls_record_recv', ret: 'uretprobe_gnutls_record_recv' },
  gnutls_record_recv_seq: { entry: 'uprobe_gnutls_record_recv_seq', ret: 'uretprobe_gnutls_record_recv_seq' },
  gnutls_deinit: { entry: 'uprobe_gnutls_deinit' },
};
const HANDSHAKE_PROGRAMS: UprobePrograms = { entry: 'uprobe_gnutls_handshake', ret: 'uretprobe_gnutls_handshake' };

type Mode = 'text' | 'keylog' | 'pcap';

interface Hooked extends HookedTarget<GnutlsTarget> {
  plan?: KeyPlan;
}

export class GnutlsModule extends TlsCaptureModule<Hooked> {
  readonly name = 'gnutls' as const;
  protected readonly fileOption = 'gnutls';
  private mode: Mode = 'text';
  private keySource: KeySource = 'auto';
  private forcedVersion: string | undefined;
  private keys = new KeyLog('gnutls');
  private pending: { target: GnutlsTarget; plan?: KeyPlan }[] = [];

  async init(ctx: ModuleContext): Promise<void> {
    this.ctx = ctx;
    const model = String(this.config.model ?? 'text');
    this.mode = model === 'keylog' ? 'keylog' : model === 'pcap' ? 'pcap' : 'text';
    this.keySource = (String(this.config.gnutlsKeys ?? 'auto') as KeySource) || 'auto';
    // 1. everything that can be wrong with the command line, before anything is created or attached
    if (this.mode === 'pcap') this.pcap = PcapSession.check('gnutls', this.config);
    const sv = String(this.config.sslVersion ?? '');
    if (sv) {
      this.forcedVersion = parseForcedVersion(sv);
      if (!this.forcedVersion) {
        throw new CaptureError('ECAP_CONFIG', `--ssl_version ${sv}: not a GnuTLS version (e.g. 3.7.9) or layout name (e.g. 3_7_7)`, {
          hint: 'see offsets/gnutls.json for the known layouts',
        });
      }
    }
    const explicit = !!this.config.gnutls || Number(this.config.pid ?? 0) > 0;
    for (const t of this.findInitialTargets()) {
      if (this.mode === 'text') {
        this.pending.push({ target: t });
        continue;
      }
      const plan = keyPlan(t, this.keySource, this.forcedVersion);
      if (typeof plan === 'string') {
        if (explicit) {
          throw new CaptureError('ECAP_NO_TARGET', `${t.displayPath} (${t.info.lib}): cannot get its TLS secrets: ${plan}`, {
            hint: 'text mode still captures its plaintext (-m text)',
          });
        }
        ctx.log.warn('no key method for a GnuTLS library; skipped', { path: t.displayPath, lib: t.info.lib, reason: plan });
        continue;
      }
      this.pending.push({ target: t, plan });
    }
    if (this.pending.length === 0) {
      throw new CaptureError('ECAP_NO_TARGET', 'no GnuTLS library whose secrets can be read was found', {
        hint: 'see the warnings above; -m text captures plaintext without keys',
      });
    }
    // 2. outputs (a path we cannot write fails before anything is attached)
    const writer = this.pcap?.open(String(this.config.pcapfile ?? '') || 'save.pcapng');
    if (this.mode !== 'text') {
      const keylogPath = String(this.config.keylogfile || 'ecapture_gnutls_key.log');
      this.keys.open(keylogPath, ctx, writer);
      ctx.log.info('Keylog handler registered', { keylog_file: keylogPath, capture_mode: this.mode });
    }
    // 3. BPF objects (loaded, nothing attached yet)
    this.decoder = new TlsDataDecoder('gnutls', ctx.wallClock, ctx.emit);
    const o: OpenOptions = baseLoadOptions(this.config);
    // the plaintext programs and their fd-binding tracepoints are not needed for keys, and the reverse
    const dataProgs = [...Object.values(DATA_PROGRAMS).flatMap((p) => [p!.entry, ...(p!.ret ? [p!.ret] : [])]), ...IO_HOOK_PROGRAMS];
    const keyProgs = ['uprobe_gnutls_keylog', 'uprobe_gnutls_handshake', 'uretprobe_gnutls_handshake'];
    o.autoload = { ...o.autoload, ...Object.fromEntries((this.mode === 'text' ? keyProgs : dataProgs).map((n) => [n, false])) };
    this.obj = LoadedObject.load('tls/gnutls', o);
    this.pcap?.load(this.config, ctx);
  }

  private findInitialTargets(): GnutlsTarget[] {
    return findLibraryTargets(this.config, {
      option: 'gnutls',
      what: 'GnuTLS',
      files: 'libgnutls.so*',
      notATarget: 'not an ELF file that exports gnutls_record_send and gnutls_record_recv',
      hints: {
        file: 'point --gnutls at libgnutls.so.30 (see `ldd $(command -v wget)`)',
        pid: 'the process may use another TLS library (try tls, nss, gotls) or load libgnutls later; --gnutls PATH hooks a file directly',
        none: 'install libgnutls30 or pass --gnutls PATH',
      },
      finder: gnutlsFinder,
    });
  }

  protected usesIoTracepoints(): boolean {
    return this.mode === 'text';
  }

  protected attachInitial(): void {
    for (const p of this.pending.splice(0)) this.attachTarget(p.target, p.plan, true);
  }

  protected sampleHandler(): (s: Buffer) => void {
    return (s) => this.onSample(s);
  }

  /**
   * A program started: hook its executable (GnuTLS linked in) and the libgnutls it needs, at once; and, a
   * moment later, whatever GnuTLS file it mapped meanwhile (dlopen, preloads).
   */
  protected discover(pid: number, filename: string): void {
    this.discoverLibraries(gnutlsFinder, pid, filename, (t) => this.consider(t));
  }

  /** Hook a file found after the start, once. */
  private consider(t: GnutlsTarget): void {
    if (this.targets.has(t.key)) return;
    let plan: KeyPlan | undefined;
    if (this.mode !== 'text') {
      const p = keyPlan(t, this.keySource, this.forcedVersion);
      if (typeof p === 'string') {
        this.ctx.log.warn('no key method for a GnuTLS library; skipped', { path: t.displayPath, lib: t.info.lib, reason: p });
        this.targets.set(t.key, { target: t, id: 0, links: [] }); // do not ask again
        return;
      }
      plan = p;
    }
    this.attachTarget(t, plan, false);
  }

  private attachTarget(t: GnutlsTarget, plan: KeyPlan | undefined, fatal: boolean): void {
    const id = this.nextId++;
    const links = this.hook(t, id, fatal, 'a GnuTLS library', (uprobe) => {
      if (this.mode === 'text') {
        uprobeTable(uprobe, DATA_PROGRAMS, t.offsets);
      } else if (plan) {
        const key = Buffer.alloc(4);
        key.writeUInt32LE(id);
        this.obj!.update('gnutls_layouts', key, encodeLayout(plan.layout));
        if (plan.method === 'hook') {
          uprobe('_gnutls_call_keylog_func', plan.hookOffset!, { entry: 'uprobe_gnutls_keylog' });
          if (plan.resumedToo) uprobe('gnutls_handshake', t.offsets.gnutls_handshake!, HANDSHAKE_PROGRAMS);
        } else {
          uprobe('gnutls_handshake', t.offsets.gnutls_handshake!, HANDSHAKE_PROGRAMS);
        }
      }
    });
    if (!links) return;
    const h: Hooked = { target: t, id, links };
    if (plan) h.plan = plan;
    this.targets.set(t.key, h);
    this.decoder.libs.set(id, t.info.lib);
    const fields: Record<string, unknown> = { lib: t.info.lib, path: t.displayPath, probes: links.length };
    if (plan) {
      fields.keys = plan.method === 'hook'
        ? `key log hook at file offset 0x${plan.hookOffset!.toString(16)}${plan.resumedToo ? ' + gnutls_handshake for resumed TLS 1.2 sessions' : ''}`
        : `gnutls_handshake + layout ${plan.table?.name}`;
      for (const n of plan.notes) this.ctx.log.warn(n, { path: t.displayPath });
    }
    this.ctx.log.info('hooked', fields);
  }

  private onSample(s: Buffer): void {
    const kind = s.length >= 4 ? s.readUInt32LE(0) : 0;
    if (kind === GnutlsEventKind.EVENT_GNUTLS_KEYLOG) {
      const e = this.keys.event(decodeGnutlsKeylogEvent(s));
      if (!e) return;
      const entry = keylogHookEntry(e);
      if (entry) this.keys.add(entry, e.hdr);
      else this.keys.counters.rejected++;
    } else if (kind === GnutlsEventKind.EVENT_GNUTLS_SECRETS) {
      const e = this.keys.event(decodeGnutlsSecretsEvent(s));
      if (!e) return;
      const entries = sessionSecretsEntries(e);
      if (entries.length === 0) this.keys.counters.rejected++;
      for (const entry of entries) this.keys.add(entry, e.hdr);
    } else {
      this.decoder.handle(s);
    }
  }

  protected override closeOutputs(): void {
    const s = this.pcap?.close(this.ctx.log);
    if (s && this.final) this.final = { ...this.final, packets: s.packets, secretsBlocks: s.secretsBlocks };
    this.keys.close();
  }

  protected liveStats(): ModuleStats {
    const c = this.decoder?.counters;
    const keys = this.keys.counters;
    const p = this.pcap?.packets?.counters;
    return {
      ...(p ? { packets: p.packets, packetBytes: p.bytes } : {}),
      targets: [...this.targets.values()].filter((h) => h.links.length > 0).length,
      probes: this.obj?.linkCount ?? 0,
      events: (c?.events ?? 0) + keys.events,
      bytes: c?.bytes ?? 0,
      keys: keys.keys,
      keyDuplicates: keys.duplicates,
      keyEventsRejected: keys.rejected,
      ...this.losses(),
      decodeErrors: (c?.short ?? 0) + (c?.unknown ?? 0) + keys.short,
      attachFailures: this.attachFailures,
    };
  }
}
