import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { WsSink, parseWsAddress } from './ws.js';
import { WsCollector, evIndex, evLine, produce, selfSignedCert, waitFor } from './test-peers.js';
import type { SinkNotice } from './types.js';

const N = 2000;
const tls = selfSignedCert();
after(() => fs.rmSync(tls.dir, { recursive: true, force: true }));
const ca = fs.readFileSync(tls.cert);

function inOrder(msgs: Array<string | Buffer>): void {
  const idx = msgs.map((m) => evIndex(m.toString()));
  for (let i = 1; i < idx.length; i++) assert.ok(idx[i]! > idx[i - 1]!, `out of order or duplicate at ${i}`);
}

test('parseWsAddress', () => {
  assert.equal(parseWsAddress('wss://127.0.0.1:1/x').protocol, 'wss:');
  assert.throws(() => parseWsAddress('http://x/'), { code: 'ECAP_SINK' });
});

for (const secure of [false, true]) {
  const scheme = secure ? 'wss' : 'ws';

  test(`${scheme}: one frame per event, all in order; strings as text frames, Buffers as binary`, async (t) => {
    const srv = await WsCollector.start(secure ? tls : undefined);
    t.after(() => srv.stop('hard').catch(() => {}));
    const sink = new WsSink(srv.url, { ca });
    t.after(() => sink.close(50));
    await produce(sink, N, 50);
    sink.write(Buffer.from([0, 1, 2, 255]));
    await sink.flush(5000);
    await waitFor(() => srv.messages.length === N + 1, 5000, 'all frames');
    assert.deepEqual(srv.messages.slice(0, N), Array.from({ length: N }, (_, i) => evLine(i)));
    assert.deepEqual(srv.messages[N], Buffer.from([0, 1, 2, 255]));
    assert.equal(sink.stats().written, N + 1);
    await sink.close();
    await srv.stop();
  });

  test(`${scheme}: server stopped mid-capture and restarted: reconnects, exact drop count, order kept`, async (t) => {
    const srv = await WsCollector.start(secure ? tls : undefined);
    t.after(() => srv.stop('hard').catch(() => {}));
    const notices: SinkNotice[] = [];
    const sink = new WsSink(srv.url, {
      ca, maxBufferBytes: 1000, backoff: { initialMs: 10, maxMs: 80 }, onNotice: (n) => notices.push(n),
    });
    t.after(() => sink.close(50));
    let stopping: Promise<void> | undefined;
    let restarting: Promise<void> | undefined;
    await produce(sink, N, 4, (i) => {
      if (i === 400) stopping = srv.stop('graceful');
      if (i === 1300) restarting = stopping!.then(() => srv.listen());
    });
    await restarting;
    await sink.flush(5000);
    const st = sink.stats();
    await waitFor(() => srv.messages.length + st.dropped === N, 5000, 'received + dropped = sent');
    inOrder(srv.messages);
    assert.ok(st.dropped > 0);
    assert.equal(st.reconnects, 1);
    assert.equal(evIndex(srv.messages.at(-1)!.toString()), N - 1);
    const reported = notices.filter((n) => n.kind === 'dropped').reduce((a, n) => a + n.dropped!, 0);
    assert.equal(reported, st.dropped);
    // the reconnection notice counts the drops up to that moment; the 'dropped' notices carry the exact totals
    assert.ok(notices.some((n) => n.kind === 'reconnected' && n.dropped! > 0 && n.dropped! <= st.dropped));
    await sink.close();
    await srv.stop();
  });
}

test('ws: abrupt termination: capture continues, reconnects, nothing duplicated or reordered', async (t) => {
  const srv = await WsCollector.start();
  t.after(() => srv.stop('hard').catch(() => {}));
  const sink = new WsSink(srv.url, { maxBufferBytes: 1000, backoff: { initialMs: 10, maxMs: 80 } });
  t.after(() => sink.close(50));
  let restarting: Promise<void> | undefined;
  await produce(sink, N, 4, (i) => {
    if (i === 400) restarting = srv.stop('hard').then(() => srv.listen());
  });
  await restarting;
  await sink.flush(5000);
  await waitFor(() => evIndex(String(srv.messages.at(-1))) === N - 1, 5000, 'last event');
  inOrder(srv.messages);
  const st = sink.stats();
  assert.equal(st.reconnects, 1);
  const unseen = N - srv.messages.length - st.dropped;
  assert.ok(unseen >= 0 && unseen <= 100, `unseen loss ${unseen}`);
  await sink.close();
  await srv.stop();
});

test('wss: a self-signed certificate is refused without its CA, accepted with insecure', async (t) => {
  const srv = await WsCollector.start(tls);
  t.after(() => srv.stop('hard').catch(() => {}));
  const notices: SinkNotice[] = [];
  const strict = new WsSink(srv.url, { backoff: { initialMs: 20, maxMs: 20 }, onNotice: (n) => notices.push(n) });
  t.after(() => strict.close(50));
  strict.write('x\n');
  await waitFor(() => notices.some((n) => n.kind === 'connect_failed'), 3000, 'connect_failed');
  assert.match(notices.find((n) => n.kind === 'connect_failed')!.message, /certificate/i);
  await strict.close(50);
  assert.equal(strict.stats().dropped, 1);
  const loose = new WsSink(srv.url, { insecure: true });
  t.after(() => loose.close(50));
  loose.write('y\n');
  await loose.flush(3000);
  await waitFor(() => srv.messages.includes('y\n'), 3000, 'message');
  await loose.close();
  await srv.stop();
});

test('ws: base64 mode sends eCapture-style base64 text frames', async (t) => {
  const srv = await WsCollector.start();
  t.after(() => srv.stop('hard').catch(() => {}));
  const sink = new WsSink(srv.url, { base64: true });
  t.after(() => sink.close(50));
  sink.write('hello\n');
  sink.write(Buffer.from([0xde, 0xad]));
  await sink.flush(3000);
  await waitFor(() => srv.messages.length === 2, 3000, 'frames');
  assert.deepEqual(srv.messages, [Buffer.from('hello\n').toString('base64'), Buffer.from([0xde, 0xad]).toString('base64')]);
  await sink.close();
  await srv.stop();
});
