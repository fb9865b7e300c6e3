import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileSink, rotatedName } from './file.js';
import { sleep } from './test-peers.js';
import type { SinkNotice } from './types.js';

function tmpdir(t: { after: (fn: () => void) => void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ecap-file-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

const STAMPED = /^ev\.\d{8}T\d{6}\.\d{3}\.log$/;

/** Rotated files in name order, then the live file. */
function outputs(dir: string): string[] {
  const rotated = fs.readdirSync(dir).filter((n) => STAMPED.test(n)).sort();
  return [...rotated.map((n) => path.join(dir, n)), path.join(dir, 'ev.log')];
}

const line = (i: number) => `ev ${i} ${'x'.repeat(i % 50)}\n`;

test('rotatedName sorts by time, keeps the extension, UTC', () => {
  const ms = Date.UTC(2026, 5, 21, 10, 11, 12, 123);
  assert.equal(rotatedName('/var/log/ev.log', ms), '/var/log/ev.20260621T101112.123.log');
  assert.equal(rotatedName('/var/log/events', ms), '/var/log/events.20260621T101112.123');
  assert.ok(rotatedName('/x/a.log', ms) < rotatedName('/x/a.log', ms + 1));
  assert.ok(rotatedName('/x/a.log', Date.UTC(2026, 8, 9, 23, 59, 59, 999)) < rotatedName('/x/a.log', Date.UTC(2026, 9, 10)));
});

test('file: creates 0600, appends to an existing file, flushSync writes at once', async (t) => {
  const dir = tmpdir(t);
  const p = path.join(dir, 'ev.log');
  const a = new FileSink(p);
  a.write('one\n');
  a.write(Buffer.from('two\n'));
  a.flushSync();
  assert.equal(fs.readFileSync(p, 'utf8'), 'one\ntwo\n');
  assert.equal(fs.statSync(p).mode & 0o777, 0o600);
  await a.close();
  const b = new FileSink(p);
  b.write('three\n');
  await b.close();
  assert.equal(fs.readFileSync(p, 'utf8'), 'one\ntwo\nthree\n');
  assert.equal(b.stats().written, 1);
});

test('file: a symlink planted at the path is refused, its target untouched', (t) => {
  const dir = tmpdir(t);
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, 'keep');
  const p = path.join(dir, 'ev.log');
  fs.symlinkSync(victim, p);
  assert.throws(() => new FileSink(p), (e: { code?: string; message?: string }) => e.code === 'ECAP_SINK' && /ELOOP/.test(e.message!));
  assert.equal(fs.readFileSync(victim, 'utf8'), 'keep');
});

test('file: rotation by size: no file over the limit, nothing lost or repeated at the seams', async (t) => {
  const dir = tmpdir(t);
  const p = path.join(dir, 'ev.log');
  const notices: SinkNotice[] = [];
  const sink = new FileSink(p, { rotateBytes: 1000, onNotice: (n) => notices.push(n) });
  const all: string[] = [];
  for (let i = 0; i < 600; i++) {
    all.push(line(i));
    sink.write(line(i));
    if (i % 100 === 0) await sleep(1);
  }
  await sink.close();
  const files = outputs(dir);
  assert.ok(files.length >= 10, `${files.length} files`);
  assert.equal(files.map((f) => fs.readFileSync(f, 'utf8')).join(''), all.join(''));
  for (const [k, f] of files.entries()) {
    const size = fs.statSync(f).size;
    assert.ok(size <= 1000, `${f} is ${size} bytes`);
    assert.equal(fs.statSync(f).mode & 0o777, 0o600);
    if (k < files.length - 1) {
      // it was rotated because the next chunk would not fit
      const next = fs.readFileSync(files[k + 1]!, 'utf8').split('\n')[0]!.length + 1;
      assert.ok(size + next > 1000, `${f} rotated early (${size} + ${next})`);
    }
  }
  assert.equal(sink.stats().rotations, files.length - 1);
  assert.equal(notices.filter((n) => n.kind === 'rotated').length, files.length - 1);
});

test('file: rotation by time: each file covers one interval, all events kept in order', async (t) => {
  const dir = tmpdir(t);
  const p = path.join(dir, 'ev.log');
  const sink = new FileSink(p, { rotateMs: 200 });
  const all: string[] = [];
  const start = Date.now();
  for (let i = 0; Date.now() - start < 1100; i++) {
    const l = `${Date.now()} ${i}\n`;
    all.push(l);
    sink.write(l);
    await sleep(5);
  }
  await sink.close();
  const files = outputs(dir);
  assert.ok(files.length >= 5 && files.length <= 7, `${files.length} files`);
  assert.equal(files.map((f) => fs.readFileSync(f, 'utf8')).join(''), all.join(''));
  for (const f of files.slice(0, -1)) {
    const times = fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[0]));
    const span = times.at(-1)! - times[0]!;
    assert.ok(span < 200 + 60, `${path.basename(f)} spans ${span} ms`);
  }
  const stamps = files.slice(0, -1).map((f) => {
    const m = /\.(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)\.(\d{3})\.log$/.exec(f)!.slice(1).map(Number);
    return Date.UTC(m[0]!, m[1]! - 1, m[2]!, m[3]!, m[4]!, m[5]!, m[6]!);
  });
  for (let i = 1; i < stamps.length; i++) {
    const age = stamps[i]! - stamps[i - 1]!;
    assert.ok(age >= 190 && age <= 320, `file age ${age} ms`);
  }
});

test('file: a planted symlink at the rotated name is skipped, never followed', async (t) => {
  const dir = tmpdir(t);
  const p = path.join(dir, 'ev.log');
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, 'keep');
  const T = Date.UTC(2026, 5, 21, 10, 11, 12, 123);
  fs.symlinkSync(victim, rotatedName(p, T));
  const sink = new FileSink(p, { rotateBytes: 10, now: () => T });
  sink.write('0123456789');
  sink.write('abcdefghij');
  await sink.close();
  assert.equal(fs.readFileSync(victim, 'utf8'), 'keep');
  assert.ok(fs.lstatSync(rotatedName(p, T)).isSymbolicLink());
  assert.equal(fs.readFileSync(rotatedName(p, T + 1), 'utf8'), '0123456789');
  assert.equal(fs.readFileSync(p, 'utf8'), 'abcdefghij');
});

test('file: a chunk larger than the limit gets a file of its own', async (t) => {
  const dir = tmpdir(t);
  const p = path.join(dir, 'ev.log');
  const sink = new FileSink(p, { rotateBytes: 100 });
  sink.write('a\n');
  sink.write('B'.repeat(300));
  sink.write('c\n');
  await sink.close();
  assert.deepEqual(outputs(dir).map((f) => fs.readFileSync(f, 'utf8')), ['a\n', 'B'.repeat(300), 'c\n']);
});

test('file: write errors (ENOSPC on /dev/full) are counted and reported, never thrown', async () => {
  const notices: SinkNotice[] = [];
  const sink = new FileSink('/dev/full', { rotateBytes: 100, onNotice: (n) => notices.push(n) });
  assert.ok(notices.some((n) => /rotation disabled/.test(n.message)));
  for (let i = 0; i < 10; i++) assert.equal(sink.write(`x${i}\n`), true);
  await sink.close();
  assert.equal(sink.stats().dropped, 10);
  assert.ok(notices.some((n) => n.kind === 'error' && /ENOSPC/.test(n.message)));
  assert.ok(notices.some((n) => n.kind === 'dropped' && n.dropped === 10));
});

test('file: queue bound: a burst over maxBufferBytes is dropped and counted exactly', async (t) => {
  const dir = tmpdir(t);
  const p = path.join(dir, 'ev.log');
  const sink = new FileSink(p, { maxBufferBytes: 100 });
  let accepted = 0;
  for (let i = 0; i < 50; i++) if (sink.write('0123456789')) accepted++; // synchronous burst: no pump in between
  assert.equal(accepted, 10);
  await sink.close();
  assert.equal(fs.readFileSync(p, 'utf8').length, 100);
  assert.equal(sink.stats().dropped, 40);
});
