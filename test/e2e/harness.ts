/**
 * End-to-end test harness: runs the real CLI against real programs on 127.0.0.1.
 *
 * Skips: a test may skip only where the kernel (or the machine) cannot run it. When
 * ECAPTURE_E2E_REQUIRED=1 (set by .ci/run) every such skip becomes a failure.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, type TestContext } from 'node:test';
import { projectRoot } from '../../src/util/paths.js';

/** what bin/ecapture runs: the CLI bundled into one file by scripts/setup.sh */
export const CLI = join(projectRoot, 'dist', 'ecapture.mjs');

// a bundle older than the compiled tree (tsc run by hand) would test yesterday's code
{
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce(
      (m, e) => Math.max(m, e.isDirectory() ? newest(join(dir, e.name)) : e.name.endsWith('.js') ? statSync(join(dir, e.name)).mtimeMs : 0),
      0,
    );
  const src = join(projectRoot, 'dist', 'src');
  if (!existsSync(CLI) || statSync(CLI).mtimeMs < newest(src)) {
    throw new Error(`${CLI} is missing or older than dist/src: run scripts/setup.sh (it bundles the CLI after tsc)`);
  }
}
export const required = process.env.ECAPTURE_E2E_REQUIRED === '1';

/** Skip (or, in CI, fail) with a reason. Returns true when the test must stop. */
export function skipOrFail(t: TestContext, reason: string): true {
  if (required) assert.fail(`required end-to-end test cannot run: ${reason}`);
  t.skip(reason);
  return true;
}

/** The e2e precondition: root and a BPF-capable kernel. Returns false (after skipping) otherwise. */
export function canRunBpf(t: TestContext): boolean {
  if (process.getuid?.() !== 0) return !skipOrFail(t, 'needs root');
  if (!existsSync('/sys/kernel/btf/vmlinux')) return !skipOrFail(t, 'kernel has no BTF');
  if (!existsSync(join(projectRoot, 'native', 'build', 'Release', 'ecapture_native.node'))) {
    return !skipOrFail(t, 'native addon not built (run scripts/setup.sh)');
  }
  return true;
}

export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Require programs to exist (installed by scripts/setup.sh --test); skip/fail otherwise. */
export function needPrograms(t: TestContext, ...cmds: string[]): boolean {
  for (const c of cmds) if (!which(c)) return !skipOrFail(t, `${c} is not installed (scripts/setup.sh --test installs it)`);
  return true;
}

export function tempDir(prefix = 'ecap-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000, stepMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return;
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** resolves with the exit code (or signal name) */
  exited: Promise<number | string>;
}

/** Captures started here and still running: one that a failed assertion left behind is stopped below. */
const live = new Set<ChildProcess>();

// Without this, a capture left running by a failed assertion kept the test file's process (and the whole
// run) waiting on its pipes. SIGINT first, so the capture detaches its probes; SIGKILL if it hangs.
after(async () => {
  await Promise.all(
    [...live].map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGINT');
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    }),
  );
});

export function startProcess(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString('latin1')));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString('latin1')));
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, sig) => resolve(code ?? sig ?? -1));
    child.on('error', () => resolve(-1));
  });
  return { child, pid: child.pid ?? -1, stdout: () => out, stderr: () => err, exited };
}

/** Run a program to completion; returns its pid, exit code and output. */
export async function run(cmd: string, args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<{ pid: number; code: number | string; stdout: string; stderr: string }> {
  const p = startProcess(cmd, args, opts);
  p.child.stdin?.end();
  const timer = setTimeout(() => p.child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const code = await p.exited;
  clearTimeout(timer);
  return { pid: p.pid, code, stdout: p.stdout(), stderr: p.stderr() };
}

export interface Capture extends Proc {
  eventsFile: string;
  events(): Buffer;
  /** SIGINT, wait for exit; returns the exit code */
  stop(): Promise<number | string>;
}

/**
 * Start `ecapture <args>` writing events to a file; resolves once all hooks are attached. Events are raw
 * per read/write (`--raw`) unless `parse` is set, so tests can check exact bytes.
 */
export async function startCapture(args: string[], opts: { dir?: string; env?: NodeJS.ProcessEnv; readyTimeoutMs?: number; parse?: boolean } = {}): Promise<Capture> {
  const dir = opts.dir ?? tempDir();
  const eventsFile = join(dir, 'events.txt');
  const extra = opts.parse ? [] : ['--raw'];
  const p = startProcess(process.execPath, [CLI, ...args, ...extra, '--eventaddr', eventsFile], {
    env: { ...process.env, ...opts.env },
  });
  live.add(p.child);
  p.child.on('exit', () => live.delete(p.child));
  try {
    await waitFor('capture to start', () => /capture started/.test(p.stderr()) || p.child.exitCode !== null, opts.readyTimeoutMs ?? 15_000);
  } catch (e) {
    p.child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\nstderr:\n${p.stderr()}`);
  }
  if (p.child.exitCode !== null) throw new Error(`ecapture exited early (${p.child.exitCode}):\n${p.stderr()}`);
  return {
    ...p,
    eventsFile,
    events: () => (existsSync(eventsFile) ? readFileSync(eventsFile) : Buffer.alloc(0)),
    stop: async () => {
      if (p.child.exitCode === null) p.child.kill('SIGINT');
      const t = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
      const code = await p.exited;
      clearTimeout(t);
      return code;
    },
  };
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A self-signed certificate for 127.0.0.1/localhost in `dir`. */
export function makeCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return { cert, key };
}

export interface TextEvent {
  header: string;
  pid: number;
  tid: number;
  comm: string;
  uid: number;
  fd: number;
  src: string;
  dst: string;
  dir: 'READ' | 'WRITE';
  payload: Buffer;
}

const HEADER_RE = /^(\S+) PID:(\d+) TID:(\d+) Comm:(.*?) UID:(\d+) FD:(-?\d+) (\S+) -> (\S+) (READ|WRITE) (\d+) bytes(?: \[.*\])?$/;

/**
 * Parse the text output of data events (see src/output/encoders/text.ts): a header line that states the
 * payload length, then exactly that many payload bytes (printable payloads are written unchanged), then
 * a newline. Other lines (gaps, notices) are skipped.
 */
export function parseTextEvents(buf: Buffer): TextEvent[] {
  const out: TextEvent[] = [];
  let off = 0;
  while (off < buf.length) {
    let nl = buf.indexOf(10, off);
    if (nl < 0) nl = buf.length;
    const line = buf.toString('latin1', off, nl);
    const m = HEADER_RE.exec(line);
    off = nl + 1;
    if (!m) continue;
    const len = Number(m[10]);
    out.push({
      header: line,
      pid: Number(m[2]),
      tid: Number(m[3]),
      comm: m[4]!,
      uid: Number(m[5]),
      fd: Number(m[6]),
      src: m[7]!,
      dst: m[8]!,
      dir: m[9] as 'READ' | 'WRITE',
      payload: buf.subarray(off, off + len),
    });
    off += len + 1;
  }
  return out;
}

/** Loaded BPF programs whose names are ours (bpftool prog show). */
function bpftoolJson<T>(...args: string[]): T[] {
  const r = spawnSync('bpftool', ['-j', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return r.status === 0 ? (JSON.parse(r.stdout || '[]') as T[]) : [];
}

/**
 * Uprobes a capture has attached: classic ones are perf events of its process; uprobe_multi links (Linux
 * >= 6.6, native/src/umulti.c) belong to no process and are found through their programs' names.
 */
export function attachedUprobes(pid: number, progName: RegExp): number {
  const perf = bpftoolJson<{ pid: number; fd_type?: string }>('perf', 'list').filter((p) => p.pid === pid && /^uret?probe$/.test(p.fd_type ?? ''));
  const progs = new Set(bpftoolJson<{ id: number; name?: string }>('prog', 'show').filter((p) => progName.test(p.name ?? '')).map((p) => p.id));
  // bpftool 7.1 predates the link type and prints its number (12)
  const links = bpftoolJson<{ type: string | number; prog_id: number }>('link', 'list').filter((l) => (l.type === 12 || l.type === 'uprobe_multi') && progs.has(l.prog_id));
  return perf.length + links.length;
}

export function ourLoadedPrograms(): string[] {
  const r = spawnSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  const progs = JSON.parse(r.stdout) as { name?: string; pids?: { pid: number }[] }[];
  return progs.map((p) => p.name ?? "").filter((n) => /^(uprobe_ssl|uretprobe_ssl|tp_sys_enter|rtp_sock|tp_sched_proc)/.test(n));
}
