import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSink, framingFor, sinkKind } from './factory.js';
import { LineServer, waitFor } from './test-peers.js';
import type { SinkNotice } from './types.js';

test('sinkKind / framingFor follow eCapture\'s dispatch', () => {
  assert.equal(sinkKind(''), 'stdout');
  assert.equal(sinkKind('stdout'), 'stdout');
  assert.equal(sinkKind('tcp://127.0.0.1:9'), 'tcp');
  assert.equal(sinkKind('ws://127.0.0.1:9/'), 'ws');
  assert.equal(sinkKind('WSS://h/'), 'ws');
  assert.equal(sinkKind('/var/log/ev.log'), 'file');
  assert.equal(sinkKind('relative.log'), 'file');
  assert.equal(framingFor('ws://h/'), 'message');
  assert.equal(framingFor('tcp://h:1'), 'stream');
  assert.equal(framingFor(''), 'stream');
});

test('stdout is shared: closing one handle leaves the other working', async () => {
  const a = createSink('');
  const b = createSink('stdout');
  assert.equal(a.kind, 'stdout');
  await a.close();
  assert.equal(b.write(''), true);
  assert.equal(b.stats().connected, true);
  await b.close();
});

test('file sinks get rotation in MiB and seconds; bad values name the flag', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecap-fac-'));
  try {
    const p = path.join(dir, 'ev.log');
    const s = createSink(p, { rotateSizeMB: 1 });
    s.write('x'.repeat(700 * 1024));
    s.write('y'.repeat(700 * 1024));
    await s.close();
    assert.equal(fs.readdirSync(dir).length, 2);
    assert.throws(() => createSink(p, { rotateSizeMB: 70000 }), (e: { code?: string; details?: { field?: string } }) =>
      e.code === 'ECAP_CONFIG_FLAG' && e.details?.field === 'eventroratesize');
    assert.throws(() => createSink(p, { rotateSeconds: -1 }), { code: 'ECAP_CONFIG_FLAG' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad addresses throw ECAP_SINK with the flag; rotation on a network sink is a warning', async () => {
  assert.throws(() => createSink('tcp://nohost', { flag: 'eventaddr' }), (e: { code?: string; details?: { field?: string } }) =>
    e.code === 'ECAP_SINK' && e.details?.field === 'eventaddr');
  const srv = await LineServer.start();
  const notices: SinkNotice[] = [];
  const s = createSink(`tcp://127.0.0.1:${srv.port}`, { rotateSizeMB: 5, onNotice: (n) => notices.push(n) });
  assert.ok(notices.some((n) => /file outputs only/.test(n.message)));
  s.write('hello\n');
  await s.flush(2000);
  await waitFor(() => srv.lines.length === 1);
  await s.close();
  await srv.stop();
});
