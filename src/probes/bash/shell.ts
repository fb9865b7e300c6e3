/**
 * Shell commands from the events of bpf/shell/{bash,zsh}.bpf.c: a command's lines (joined with "\n"), where
 * it was typed (tty, cwd) and how it ended, as one ShellRecord when it ends. Shared by bash and zsh. Pure code.
 *
 * -e/--errnumber N keeps only commands whose exit status is N (eCapture's documented meaning; its own
 * default 128 stood for "all", which here is simply the absence of -e).
 */
import { TextCtxFlags, TextEndHow, TextSource, type EventHdr } from '../../gen/events.js';
import type { CaptureRecord, ShellRecord, Who } from '../../model/records.js';
import { BoundedMap, TextAssembler, decodeTextChunk, textOf, type TextChunk } from './text.js';
import type { Config } from '../../config/schema.js';
import type { AuditHandler } from './audit-module.js';

export interface ShellCommandsOptions {
  shell: 'bash' | 'zsh';
  /** keep only commands with this exit status; undefined = all */
  errnumber?: number;
  /** commands waiting for their end, at most (oldest dropped) */
  maxOpen?: number;
}

interface OpenCommand {
  who: Who;
  firstNs: number;
  /** line number → text */
  lines: Map<number, string>;
  tty?: string;
  cwd?: string;
  truncated: boolean;
}

export function whoOfHdr(h: EventHdr): Who {
  return { pid: h.pid, tid: h.tid, uid: h.uid, comm: h.comm, cgroupId: BigInt(h.cgroupId) };
}

/** "pts3" (the kernel's tty name) → "pts/3", as ps and who print it; other names unchanged. */
export function ttyName(kernelName: string): string {
  const m = /^pts(\d+)$/.exec(kernelName);
  return m ? `pts/${m[1]}` : kernelName;
}

export class ShellCommands implements AuditHandler {
  readonly counters = {
    events: 0,
    bytes: 0,
    decodeErrors: 0,
    records: 0,
    /** commands not shown because of -e */
    filtered: 0,
    /** commands without a line (empty) that were not run */
    empty: 0,
    /** commands whose text the kernel cut or lost chunks of */
    truncatedCommands: 0,
    /** commands dropped because too many were open */
    evicted: 0,
  };
  private readonly open: BoundedMap<string, OpenCommand>;
  private readonly texts = new TextAssembler();

  constructor(
    private opts: ShellCommandsOptions,
    private readonly wallClock: (monoNs: number) => bigint,
    private readonly emit: (rec: CaptureRecord) => void,
  ) {
    this.open = new BoundedMap(opts.maxOpen ?? 4096);
  }

  handle(sample: Buffer): void {
    const c = decodeTextChunk(sample);
    if (!c) {
      this.counters.decodeErrors++;
      return;
    }
    this.counters.events++;
    this.counters.bytes += c.bytes.length;
    const e = c.event;
    const key = `${e.hdr.pid}:${e.id}`;
    switch (e.source) {
      case TextSource.TEXT_SHELL_CTX:
        this.context(key, c);
        break;
      case TextSource.TEXT_SHELL_LINE:
        this.line(key, c);
        break;
      case TextSource.TEXT_SHELL_END:
        this.end(key, c);
        break;
      default:
        this.counters.decodeErrors++;
    }
  }

  private command(key: string, c: TextChunk): OpenCommand {
    let cmd = this.open.get(key);
    if (!cmd) {
      const before = this.open.evicted;
      cmd = { who: whoOfHdr(c.event.hdr), firstNs: c.event.hdr.tsNs, lines: new Map(), truncated: false };
      this.open.set(key, cmd);
      this.counters.evicted += this.open.evicted - before;
    }
    return cmd;
  }

  private context(key: string, c: TextChunk): void {
    const cmd = this.command(key, c);
    const z = c.bytes.indexOf(0);
    const tty = (z < 0 ? c.bytes : c.bytes.subarray(0, z)).toString('latin1');
    const cwd = z < 0 ? '' : textOf(c.bytes.subarray(z + 1));
    if (tty) cmd.tty = ttyName(tty);
    if (cwd) cmd.cwd = c.event.aux & TextCtxFlags.CTX_CWD_PARTIAL ? `...${cwd}` : cwd;
  }

  private line(key: string, c: TextChunk): void {
    const cmd = this.command(key, c);
    const t = this.texts.add(`${key}:${c.event.aux}`, c);
    if (!t) return;
    let s = textOf(t.text);
    // zsh's line editor returns the line with its newline
    if (s.endsWith('\n')) s = s.slice(0, -1);
    cmd.lines.set(c.event.aux, s);
    if (t.truncated || t.incomplete) cmd.truncated = true;
  }

  private end(key: string, c: TextChunk): void {
    const cmd = this.open.get(key);
    if (!cmd) return; // its lines were never seen (capture started in the middle) or evicted
    this.open.delete(key);
    this.texts.forget(`${key}:`);
    const how = c.event.aux;
    const status = c.event.retval;
    const retval = how === TextEndHow.END_EXEC || status < 0 ? undefined : status;
    const nlines = Number(c.event.value);
    if (cmd.lines.size < nlines) cmd.truncated = true; // a line's last chunk was lost
    this.finish(cmd, retval, how === TextEndHow.END_NOT_RUN);
  }

  private finish(cmd: OpenCommand, retval: number | undefined, notRun: boolean): void {
    const line = [...cmd.lines.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]).join('\n');
    if (notRun && line.trim() === '') {
      this.counters.empty++;
      return;
    }
    if (this.opts.errnumber !== undefined && retval !== this.opts.errnumber) {
      this.counters.filtered++;
      return;
    }
    const rec: ShellRecord = {
      type: 'shell',
      ts: this.wallClock(cmd.firstNs),
      module: this.opts.shell,
      who: cmd.who,
      shell: this.opts.shell,
      line,
    };
    if (retval !== undefined) rec.retval = retval;
    if (cmd.tty) rec.tty = cmd.tty;
    if (cmd.cwd) rec.cwd = cmd.cwd;
    if (cmd.truncated) {
      rec.truncated = true;
      this.counters.truncatedCommands++;
    }
    this.counters.records++;
    this.emit(rec);
  }

  /** -e changes live (it only filters what is shown). */
  reconfigure(config: Config, keys: string[]): boolean {
    if (!keys.every((k) => k === 'errnumber')) return false;
    const e = config.errnumber;
    const { errnumber: _old, ...rest } = this.opts;
    this.opts = e === undefined || e === '' ? rest : { ...rest, errnumber: Number(e) };
    return true;
  }

  /** At close: commands still running are shown without an exit status (unless -e asks for one). */
  flush(): void {
    for (const cmd of this.open.values()) {
      if (cmd.lines.size > 0) this.finish(cmd, undefined, false);
    }
    this.open.clear();
  }
}
