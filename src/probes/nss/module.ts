/**
 * The `nss` module: finds the files exporting NSPR's I/O functions, loads nss.bpf.o and attaches entry/return
 * probes on PR_Write/PR_Send/PR_Writev/PR_Read/PR_Recv (+ PR_Close to forget a descriptor) of every target, with a cookie
 * naming the file; programs started later are hooked through the exec watcher. The kernel program reports only
 * calls on descriptors whose layer stack holds NSS's SSL layer (see bpf/tls/nss.bpf.c). Text mode only.
 */
import { CaptureError } from '../../errors.js';
import type { ModuleContext, ModuleStats } from '../../registry.js';
import { LoadedObject } from '../../bpf/object.js';
import { TlsDataDecoder } from '../common/tls-data.js';
import { baseLoadOptions } from '../common/load.js';
import { findLibraryTargets } from '../common/initial-targets.js';
import { type HookedTarget, TlsCaptureModule, uprobeTable, type UprobePrograms } from '../common/tls-module.js';
import { nsprFinder, type NsprFunc, type NsprTarget } from './targets.js';

const PROGRAMS: Record<NsprFunc, UprobePrograms> = {
  PR_Write: { entry: 'uprobe_pr_write', ret: 'uretprobe_pr_write' },
  PR_Send: { entry: 'uprobe_pr_send', ret: 'uretprobe_pr_send' },
  PR_Read: { entry: 'uprobe_pr_read', ret: 'uretprobe_pr_read' },
  PR_Recv: { entry: 'uprobe_pr_recv', ret: 'uretprobe_pr_recv' },
  PR_Writev: { entry: 'uprobe_pr_writev', ret: 'uretprobe_pr_writev' },
  PR_Close: { entry: 'uprobe_pr_close' },
};

export class NssModule extends TlsCaptureModule<HookedTarget<NsprTarget>> {
  readonly name = 'nss' as const;
  protected readonly fileOption = 'nspr';
  private pending: NsprTarget[] = [];

  async init(ctx: ModuleContext): Promise<void> {
    this.ctx = ctx;
    const model = String(this.config.model ?? 'text');
    if (model !== 'text') {
      throw new CaptureError('ECAP_CONFIG', `-m ${model}: not available for nss: NSS keeps TLS secrets inside its PKCS #11 token, out of reach of probes; this module captures plaintext only`, {
        hint: 'use -m text; for keys, start the NSS program with SSLKEYLOGFILE=<file> if its NSS was built with NSS_ALLOW_SSLKEYLOGFILE (Firefox is; Debian\'s libnss3 is not)',
      });
    }
    this.pending = findLibraryTargets(this.config, {
      option: 'nspr',
      what: 'NSPR',
      files: 'libnspr4.so',
      notATarget: 'not an ELF file that exports PR_Write and PR_Read',
      hints: {
        file: (path) => /libnss3\.so/.test(path) || /libssl3\.so/.test(path)
          ? 'this NSS library does not carry NSPR: point --nspr at libnspr4.so (see `ldd` of the program)'
          : 'point --nspr at libnspr4.so (or at a libnss3.so with NSPR folded in, as Firefox ships it)',
        pid: 'the process may use another TLS library (try tls, gnutls, gotls) or load NSS later; --nspr PATH hooks a file directly',
        none: 'install libnspr4 or pass --nspr PATH',
      },
      finder: nsprFinder,
    });
    this.decoder = new TlsDataDecoder('nss', ctx.wallClock, ctx.emit);
    this.obj = LoadedObject.load('tls/nss', baseLoadOptions(this.config));
  }

  protected usesIoTracepoints(): boolean {
    return true;
  }

  protected attachInitial(): void {
    for (const t of this.pending.splice(0)) this.attachTarget(t, true);
  }

  protected sampleHandler(): (s: Buffer) => void {
    return (s) => this.decoder.handle(s);
  }

  /**
   * A program started: hook its executable and the libnspr4 it needs (directly or through libnss3/libssl3), at
   * once; and, a moment later, whatever NSPR file it mapped meanwhile (Firefox loads libnss3 with dlopen).
   */
  protected discover(pid: number, filename: string): void {
    this.discoverLibraries(nsprFinder, pid, filename, (t) => {
      if (!this.targets.has(t.key)) this.attachTarget(t, false);
    });
  }

  private attachTarget(t: NsprTarget, fatal: boolean): void {
    const id = this.nextId++;
    const links = this.hook(t, id, fatal, 'an NSPR library', (uprobe) => uprobeTable(uprobe, PROGRAMS, t.offsets));
    if (!links) return;
    this.targets.set(t.key, { target: t, id, links });
    this.decoder.libs.set(id, t.info.lib);
    this.ctx.log.info('hooked', { lib: t.info.lib, path: t.displayPath, probes: links.length });
  }

  protected liveStats(): ModuleStats {
    const c = this.decoder?.counters;
    return {
      targets: this.targets.size,
      probes: this.obj?.linkCount ?? 0,
      events: c?.events ?? 0,
      bytes: c?.bytes ?? 0,
      ...this.losses(),
      decodeErrors: (c?.short ?? 0) + (c?.unknown ?? 0),
      attachFailures: this.attachFailures,
    };
  }
}
