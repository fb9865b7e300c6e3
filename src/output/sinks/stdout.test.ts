import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { sleep } from './test-peers.js';

// Each case runs the sink in a child process whose stdout is a pipe the test controls.
const MODULE = new URL('./stdout.js', import.meta.url).href;
const CHILD = `
const { StdoutSink } = await import(process.argv[1]);
const n = Number(process.argv[2]);
const sink = new StdoutSink({ maxBufferBytes: Number(process.argv[3]), onNotice: (x) => process.stderr.write('NOTICE ' + x.kind + '\\n') });
const t0 = Date.now();
for (let i = 0; i < n; i++) {
  sink.write('line ' + i + '\\n');
  if (i % 500 === 0) await new Promise((r) => setImmediate(r));
}
process.stderr.write('PRODUCED ' + (Date.now() - t0) + '\\n');
await sink.close(Number(process.argv[4]));
process.stderr.write('STATS ' + JSON.stringify(sink.stats()) + '\\n');
`;

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function run(n: number, maxBuffer: number, reader: (child: ReturnType<typeof spawn>) => void = () => {}, closeMs = 300): Promise<Run> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, MODULE, String(n), String(maxBuffer), String(closeMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stdout!.on('error', () => {});
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  reader(child);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out, err })));
}

const stats = (err: string) => JSON.parse(/STATS (.*)/.exec(err)![1]!) as { written: number; dropped: number };

test('stdout: everything arrives in order', async () => {
  const r = await run(20000, 16 << 20);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines.length, 20000);
  lines.forEach((l, i) => assert.equal(l, `line ${i}`));
  assert.deepEqual([stats(r.err).written, stats(r.err).dropped], [20000, 0]);
});

test('stdout: the reader going away (EPIPE) ends output quietly: exit 0, every chunk counted', async () => {
  const r = await run(200000, 16 << 20, (child) => child.stdout!.once('data', () => child.stdout!.destroy()));
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /NOTICE output_closed/);
  assert.doesNotMatch(r.err, /Error|EPIPE:/);
  const s = stats(r.err);
  assert.ok(s.dropped > 0);
  assert.equal(s.written + s.dropped, 200000);
});

test('stdout: a stalled reader does not block the producer; drops are counted, the rest arrives in order', async () => {
  let producedWhilePaused = false;
  const r = await run(100000, 64 * 1024, (child) => {
    child.stdout!.pause();
    let resumed = false;
    child.stderr!.on('data', (d: string) => {
      if (!resumed && d.includes('PRODUCED')) producedWhilePaused = true;
    });
    void sleep(2000).then(() => {
      resumed = true;
      child.stdout!.resume();
    });
    // close() may wait past the reader's pause: with a shorter flush the batch stuck in the pipe could
    // still be in flight when the stats are printed, and arrive after them (seen once under CI load)
  }, 10_000);
  assert.equal(r.code, 0, r.err);
  assert.ok(producedWhilePaused, `the producer finished only after the reader resumed: ${r.err}`);
  const s = stats(r.err);
  assert.ok(s.dropped > 0);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines.length, s.written);
  let prev = -1;
  for (const l of lines) {
    const i = Number(l.slice(5));
    assert.ok(i > prev, `order: ${prev} then ${i}`);
    prev = i;
  }
});
