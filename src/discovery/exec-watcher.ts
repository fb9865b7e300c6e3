/**
 * Process exec/exit notifications from the kernel (bpf/sys/proc.bpf.c on sched tracepoints), so modules can
 * hook the TLS library of a program started after the tool, before its first TLS call.
 */
import { EventKind, decodeProcExecEvent } from '../gen/events.js';
import { LoadedObject, rodata } from '../bpf/object.js';
import type { ProcessHandler } from '../registry.js';
import type { Logger } from '../log.js';

export class ExecWatcher {
  private obj: LoadedObject | undefined;
  private handlers = new Set<ProcessHandler>();
  readonly counters = { exec: 0, exit: 0, short: 0 };

  constructor(
    private readonly log: Logger,
    private readonly opts: { usePerf: boolean; btfCustomPath?: string },
  ) {}

  subscribe(h: ProcessHandler): () => void {
    this.handlers.add(h);
    if (!this.obj) this.start();
    return () => {
      this.handlers.delete(h);
    };
  }

  private start(): void {
    const o: Parameters<typeof LoadedObject.load>[1] = {
      rodata: { use_perfbuf: rodata.u32(this.opts.usePerf ? 1 : 0) },
      mapSizes: { events_rb: 1 << 20 },
    };
    if (this.opts.btfCustomPath) o.btfCustomPath = this.opts.btfCustomPath;
    if (this.opts.usePerf) o.autocreate = { events_rb: false };
    this.obj = LoadedObject.load('sys/proc', o);
    this.obj.attachTracepoint('tp_sched_process_exec', 'sched', 'sched_process_exec');
    this.obj.attachTracepoint('tp_sched_process_exit', 'sched', 'sched_process_exit');
    this.obj.readEvents('events_rb', 'events_pb', this.opts.usePerf, 16, (s) => this.onSample(s), (n) => {
      this.log.warn('process events lost', { lost: n });
    });
    this.log.debug('watching process exec/exit');
  }

  private onSample(s: Buffer): void {
    const e = decodeProcExecEvent(s);
    if (!e) {
      this.counters.short++;
      return;
    }
    if (e.hdr.kind === EventKind.EVENT_PROC_EXEC) {
      this.counters.exec++;
      for (const h of this.handlers) {
        try {
          h.exec?.(e.hdr.pid, e.filename, e.ppid);
        } catch (err) {
          this.log.warn('exec handler failed', { error: (err as Error).message });
        }
      }
    } else if (e.hdr.kind === EventKind.EVENT_PROC_EXIT) {
      this.counters.exit++;
      for (const h of this.handlers) {
        try {
          h.exit?.(e.hdr.pid);
        } catch (err) {
          this.log.warn('exit handler failed', { error: (err as Error).message });
        }
      }
    }
  }

  drain(): void {
    this.obj?.drain();
  }

  close(): void {
    this.obj?.close();
    this.obj = undefined;
    this.handlers.clear();
  }
}
