import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventKind, TextCtxFlags, TextEndHow, TextSource } from '../../gen/events.js';
import type { CaptureRecord, ShellRecord } from '../../model/records.js';
import { ShellCommands, ttyName } from './shell.js';
import { stringChunks, textSample } from './test-events.js';

const K = EventKind.EVENT_SHELL;
const clock = (ns: number): bigint => BigInt(ns) + 1_000_000_000n;

function shell(opts: ConstructorParameters<typeof ShellCommands>[0] = { shell: 'bash' }): { s: ShellCommands; out: ShellRecord[] } {
  const out: ShellRecord[] = [];
  const s = new ShellCommands(opts, clock, (r: CaptureRecord) => out.push(r as ShellRecord));
  return { s, out };
}

function command(s: ShellCommands, id: number, lines: string[], end: { retval: number; how?: number }, extra: { pid?: number; tty?: string; cwd?: string; partial?: boolean } = {}): void {
  const pid = extra.pid ?? 100;
  s.handle(textSample({ kind: K, source: TextSource.TEXT_SHELL_CTX, id, pid, tsNs: id, aux: extra.partial ? TextCtxFlags.CTX_CWD_PARTIAL : 0,
    payload: Buffer.concat([Buffer.from(extra.tty ?? 'pts3'), Buffer.from([0]), Buffer.from(extra.cwd ?? '/root')]) }));
  lines.forEach((l, i) => {
    for (const c of stringChunks({ kind: K, source: TextSource.TEXT_SHELL_LINE, id, pid, tsNs: id + i, aux: i }, l)) s.handle(c);
  });
  s.handle(textSample({ kind: K, source: TextSource.TEXT_SHELL_END, id, pid, retval: end.retval, aux: end.how ?? TextEndHow.END_EXECUTED, value: lines.length }));
}

test('a command: its line, status, who, tty (pts/N), cwd and the time of its first line', () => {
  const { s, out } = shell();
  command(s, 5_000, ['echo hi'], { retval: 0 }, { pid: 321 });
  assert.equal(out.length, 1);
  const r = out[0]!;
  assert.deepEqual({ line: r.line, retval: r.retval, tty: r.tty, cwd: r.cwd, shell: r.shell, module: r.module, pid: r.who.pid, comm: r.who.comm },
    { line: 'echo hi', retval: 0, tty: 'pts/3', cwd: '/root', shell: 'bash', module: 'bash', pid: 321, comm: 'bash' });
  assert.equal(r.ts, clock(5_000));
  assert.equal(s.counters.records, 1);
});

test('multi-line commands are joined; zsh newlines are stripped; a 100 KB line is whole', () => {
  const { s, out } = shell({ shell: 'zsh' });
  command(s, 1, ['for i in 1 2\n', 'do echo $i\n', 'done\n'], { retval: 0 });
  const long = 'x'.repeat(100_000);
  command(s, 2, [`: ${long}\n`], { retval: 0 });
  assert.equal(out[0]!.line, 'for i in 1 2\ndo echo $i\ndone');
  assert.equal(out[1]!.line, `: ${long}`);
});

test('statuses: not run keeps $?, empty lines are dropped, exec has none, exit has the exit code', () => {
  const { s, out } = shell();
  command(s, 1, ['echo )('], { retval: 2, how: TextEndHow.END_NOT_RUN });
  command(s, 2, [''], { retval: 0, how: TextEndHow.END_NOT_RUN });
  command(s, 3, ['exec ls'], { retval: 0, how: TextEndHow.END_EXEC });
  command(s, 4, ['exit 7'], { retval: 7, how: TextEndHow.END_EXIT });
  command(s, 5, ['x'], { retval: -1, how: TextEndHow.END_NOT_RUN });
  assert.deepEqual(out.map((r) => [r.line, r.retval]), [['echo )(', 2], ['exec ls', undefined], ['exit 7', 7], ['x', undefined]]);
  assert.equal(s.counters.empty, 1);
});

test('-e N keeps only status N; it changes live', () => {
  const { s, out } = shell({ shell: 'bash', errnumber: 0 });
  command(s, 1, ['true'], { retval: 0 });
  command(s, 2, ['false'], { retval: 1 });
  assert.deepEqual(out.map((r) => r.line), ['true']);
  assert.equal(s.counters.filtered, 1);
  assert.ok(s.reconfigure({ errnumber: 1 }, ['errnumber']));
  command(s, 3, ['false'], { retval: 1 });
  command(s, 4, ['true'], { retval: 0 });
  assert.ok(s.reconfigure({}, ['errnumber']));
  command(s, 5, ['true'], { retval: 0 });
  assert.deepEqual(out.map((r) => r.line), ['true', 'false', 'true']);
  assert.equal(s.reconfigure({ bash: '/x' }, ['bash']), false);
});

test('commands of different shells interleave; unknown ends and stray events are harmless; flush', () => {
  const { s, out } = shell();
  const line = (pid: number, id: number, t: string, aux = 0): Buffer => textSample({ kind: K, source: TextSource.TEXT_SHELL_LINE, id, pid, aux, payload: t });
  s.handle(line(1, 10, 'a'));
  s.handle(line(2, 10, 'b'));
  s.handle(textSample({ kind: K, source: TextSource.TEXT_SHELL_END, id: 10, pid: 2, retval: 1, value: 1 }));
  s.handle(textSample({ kind: K, source: TextSource.TEXT_SHELL_END, id: 99, pid: 2, retval: 1 }));
  s.handle(Buffer.alloc(3));
  s.handle(textSample({ kind: K, source: 77, id: 1 }));
  assert.deepEqual(out.map((r) => [r.who.pid, r.line, r.retval]), [[2, 'b', 1]]);
  assert.equal(s.counters.decodeErrors, 2);
  s.flush();
  assert.deepEqual(out.map((r) => [r.who.pid, r.line, r.retval]), [[2, 'b', 1], [1, 'a', undefined]]);
});

test('a deep cwd is marked partial; tty names', () => {
  const { s, out } = shell();
  command(s, 1, ['pwd'], { retval: 0 }, { cwd: '/d/e', partial: true, tty: 'tty1' });
  assert.equal(out[0]!.cwd, '.../d/e');
  assert.equal(out[0]!.tty, 'tty1');
  assert.equal(ttyName('pts12'), 'pts/12');
  assert.equal(ttyName('ttyS0'), 'ttyS0');
});

test('a lost last chunk of a line marks the command and keeps the rest', () => {
  const { s, out } = shell();
  const chunks = stringChunks({ kind: K, source: TextSource.TEXT_SHELL_LINE, id: 1, aux: 1 }, 'y'.repeat(20_000));
  s.handle(textSample({ kind: K, source: TextSource.TEXT_SHELL_LINE, id: 1, aux: 0, payload: 'first' }));
  s.handle(chunks[0]!);
  s.handle(textSample({ kind: K, source: TextSource.TEXT_SHELL_END, id: 1, retval: 0, value: 2 }));
  assert.equal(out[0]!.line, 'first');
  assert.equal(out[0]!.truncated, true);
  assert.equal(s.counters.truncatedCommands, 1);
});

test('text output of shell and query records: header fields on one line, the text rendered like a payload', async () => {
  const { encodeText } = await import('../../output/encoders/text.js');
  const flat = (e: ReturnType<typeof encodeText>): string => (Array.isArray(e) ? e.map((x) => x.toString()).join('') : e.toString());
  const who = { pid: 1, tid: 1, uid: 0, comm: 'bash' };
  const sh: ShellRecord = { type: 'shell', ts: 0n, module: 'bash', who, shell: 'bash', line: 'echo \x1b[31mred\nls', retval: 0, tty: 'pts/1', cwd: '/tmp/a\nb' };
  const plain = flat(encodeText(sh));
  assert.match(plain, / bash TTY:pts\/1 CWD:\/tmp\/a\\x0ab Retval:0\necho \x1b\[31mred\nls\n$/, 'to a file: the line byte-exact, the header on one line');
  assert.match(flat(encodeText(sh, { tty: true })), /\necho \\x1b\[31mred\nls\n$/, 'to a terminal: control bytes escaped');
  assert.match(flat(encodeText(sh, { tsize: 4 })), /\necho\n\.\.\. 12 more bytes not printed/);
  assert.match(flat(encodeText(sh, { hex: true })), /\n00000000  65 63 68 6f /);
  assert.match(flat(encodeText({ ...sh, truncated: true })), / Retval:0 \[TRUNCATED\]\n/);
  const q = { type: 'query' as const, ts: 0n, module: 'mysqld' as const, who, db: 'mysqld' as const, query: 'select 1', length: 8, status: 'ERROR 1: a\nb', retval: 1, kind: 'query' };
  assert.match(flat(encodeText(q)), / mysqld Kind:query Len:8 Retval:1 Status:ERROR 1: a\\x0ab\nselect 1\n$/);
});
