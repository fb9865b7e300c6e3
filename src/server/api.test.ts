import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Ajv } from 'ajv';
import { isLoopback, parseListen, startApiServer } from './api.js';
import type { ApiServer } from './api.js';
import { DEFAULT_ROUTES, controlError } from './control.js';
import type { ControlPlane, ValidateResult } from './control.js';

// A fake control plane: JSON Schema validation with ajv (as the CLI's registry does), applies recorded.
const ajv = new Ajv({ allErrors: false });
const tlsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    pid: { type: 'integer', minimum: 0 },
    uid: { type: 'integer', minimum: 0 },
    capture_mode: { enum: ['text', 'keylog', 'pcap'] },
    pcapfilter: { type: 'string' },
  },
};
const check = ajv.compile(tlsSchema);

class FakeControl implements ControlPlane {
  applied: Array<[string, unknown]> = [];
  current = { module: 'tls', config: { pid: 0, capture_mode: 'text' } as Record<string, unknown> };
  applyImpl: (module: string, config: unknown) => Promise<void> = async () => {};
  resolveModule(route: string): string | undefined {
    return DEFAULT_ROUTES[route];
  }
  validate(_module: string, body: unknown): ValidateResult {
    if (check(body)) return { ok: true, config: body };
    const e = check.errors![0]!;
    const field = e.keyword === 'additionalProperties'
      ? String((e.params as { additionalProperty: string }).additionalProperty)
      : e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    return { ok: false, field, message: e.message ?? 'invalid' };
  }
  async apply(module: string, config: unknown): Promise<void> {
    await this.applyImpl(module, config);
    this.applied.push([module, config]);
    this.current = { module, config: config as Record<string, unknown> };
  }
  config() {
    return this.current;
  }
  stats() {
    return { events: 12, bytes: 3456, lost: 0, sinks: [{ name: 'stdout', dropped: 0 }] };
  }
}

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: { code: number; module_type: string; msg: string; data: any };
}

function request(srv: ApiServer, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const framing: Record<string, string> = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path, headers: { 'content-type': 'application/json', ...framing, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d)).on('end', () => {
        resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function start(t: { after: (fn: () => Promise<void>) => void }, extra: { token?: string; maxBodyBytes?: number } = {}) {
  const control = new FakeControl();
  const srv = await startApiServer({ listen: '127.0.0.1:0', control, ...extra });
  t.after(() => srv.close());
  return { srv, control };
}

test('parseListen / isLoopback', () => {
  assert.deepEqual(parseListen('127.0.0.1:28256'), { host: '127.0.0.1', port: 28256 });
  assert.deepEqual(parseListen(':28256'), { host: '', port: 28256 });
  assert.deepEqual(parseListen('[::1]:28256'), { host: '::1', port: 28256 });
  assert.throws(() => parseListen('28256'), { code: 'ECAP_CONFIG_FLAG' });
  assert.throws(() => parseListen('h:99999'), { code: 'ECAP_CONFIG_FLAG' });
  assert.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost') && isLoopback('127.8.9.10'));
  assert.ok(!isLoopback('0.0.0.0') && !isLoopback('10.0.0.1') && !isLoopback('') && !isLoopback('::'));
});

test('a valid config is applied: 200 RespOK in eCapture\'s shape; aliases resolve', async (t) => {
  const { srv, control } = await start(t);
  const r = await request(srv, 'POST', '/tls', '{"pid":1234,"capture_mode":"keylog"}');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { code: 0, module_type: 'tls', msg: 'RespOK', data: null });
  assert.match(r.headers['content-type']!, /^application\/json/);
  assert.deepEqual(control.applied, [['tls', { pid: 1234, capture_mode: 'keylog' }]]);
  for (const [route, module] of [['openssl', 'tls'], ['boringssl', 'tls'], ['postgress', 'postgres'], ['zsh', 'zsh'], ['nspr', 'nss']]) {
    const x = await request(srv, 'POST', `/${route}`, '{}');
    assert.equal(x.status, 200, route);
    assert.equal(x.body.module_type, module);
  }
  const c = await request(srv, 'GET', '/config');
  assert.deepEqual([c.status, c.body.code, c.body.module_type], [200, 0, 'nss']);
  const s = await request(srv, 'GET', '/stats');
  assert.deepEqual(s.body.data, { events: 12, bytes: 3456, lost: 0, sinks: [{ name: 'stdout', dropped: 0 }] });
});

test('malformed JSON → 400 code 4; schema failure → 400 code 5 naming the field', async (t) => {
  const { srv, control } = await start(t);
  const bad = await request(srv, 'POST', '/tls', '{"pid": 12');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 4);
  assert.match(bad.body.msg, /invalid JSON/);
  const arr = await request(srv, 'POST', '/tls', '[1]');
  assert.deepEqual([arr.status, arr.body.code], [400, 4]);
  const neg = await request(srv, 'POST', '/tls', '{"pid":-1}');
  assert.deepEqual([neg.status, neg.body.code, neg.body.data], [400, 5, { field: 'pid' }]);
  assert.match(neg.body.msg, /^pid: /);
  const extra = await request(srv, 'POST', '/gotls', '{"pidd":1}');
  assert.deepEqual([extra.status, extra.body.code, extra.body.data, extra.body.module_type], [400, 5, { field: 'pidd' }, 'gotls']);
  assert.equal(control.applied.length, 0);
});

test('unknown module → 404 code 3; wrong method → 405; oversized body → 413', async (t) => {
  const { srv } = await start(t, { maxBodyBytes: 100 });
  for (const p of ['/foo', '/', '/tls/extra', '/../etc/passwd']) {
    const r = await request(srv, 'POST', p, '{}');
    assert.deepEqual([r.status, r.body.code], [404, 3], p);
  }
  const g = await request(srv, 'GET', '/tls');
  assert.deepEqual([g.status, g.headers.allow], [405, 'POST']);
  const big = await request(srv, 'POST', '/tls', JSON.stringify({ pcapfilter: 'x'.repeat(200) }));
  assert.deepEqual([big.status, big.body.code], [413, 4]);
});

test('apply failures map to eCapture codes: busy → 503/6, invalid → 400/5, other → 500/2', async (t) => {
  const { srv, control } = await start(t);
  control.applyImpl = async () => {
    throw controlError('busy', 'a reload is in progress');
  };
  assert.deepEqual([(await request(srv, 'POST', '/tls', '{}')).status, (await request(srv, 'POST', '/tls', '{}')).body.code], [503, 6]);
  control.applyImpl = async () => {
    throw controlError('invalid', 'no such library', 'opensslpath');
  };
  const inv = await request(srv, 'POST', '/tls', '{}');
  assert.deepEqual([inv.status, inv.body.code, inv.body.data], [400, 5, { field: 'opensslpath' }]);
  control.applyImpl = async () => {
    throw new Error('attach failed');
  };
  const f = await request(srv, 'POST', '/tls', '{}');
  assert.deepEqual([f.status, f.body.code, f.body.msg], [500, 2, 'attach failed']);
});

test('concurrent changes are applied one at a time, in order', async (t) => {
  const { srv, control } = await start(t);
  let active = 0;
  let maxActive = 0;
  control.applyImpl = async () => {
    maxActive = Math.max(maxActive, ++active);
    await new Promise((r) => setTimeout(r, 20));
    active--;
  };
  const rs = await Promise.all([1, 2, 3].map((pid) => request(srv, 'POST', '/tls', JSON.stringify({ pid }))));
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
  assert.equal(maxActive, 1);
  assert.deepEqual(control.applied.map(([, c]) => (c as { pid: number }).pid), [1, 2, 3]);
});

test('token: missing or wrong → 401 before routing; right → served', async (t) => {
  const { srv, control } = await start(t, { token: 's3cret-token' });
  const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer nope' }, { authorization: 's3cret-token' }, { authorization: 'Basic czNjcmV0' }];
  for (const h of attempts) {
    for (const [m, p] of [['POST', '/tls'], ['GET', '/config'], ['GET', '/stats'], ['POST', '/nope']]) {
      const r = await request(srv, m!, p!, '{}', h);
      assert.equal(r.status, 401, `${m} ${p} ${JSON.stringify(h)}`);
      assert.equal(r.body.code, 1);
      assert.match(String(r.headers['www-authenticate']), /^Bearer/);
    }
  }
  const ok = await request(srv, 'POST', '/tls', '{"pid":7}', { authorization: 'Bearer s3cret-token' });
  assert.equal(ok.status, 200);
  assert.equal(control.applied.length, 1);
});

test('a non-loopback bind without a token is refused before listening', async () => {
  for (const listen of [':0', '0.0.0.0:0', '[::]:0', '10.1.2.3:0']) {
    await assert.rejects(startApiServer({ listen, control: new FakeControl() }), (e: { code?: string; details?: { field?: string } }) =>
      e.code === 'ECAP_CONFIG_FLAG' && e.details?.field === 'listen', listen);
  }
});

test('browser requests (Origin) and foreign Host headers (DNS rebinding) → 403', async (t) => {
  const { srv, control } = await start(t);
  const o = await request(srv, 'POST', '/tls', '{}', { origin: 'https://evil.example' });
  assert.deepEqual([o.status, o.body.code], [403, 1]);
  const h = await request(srv, 'GET', '/config', undefined, { host: 'evil.example:28256' });
  assert.equal(h.status, 403);
  const ok = await request(srv, 'GET', '/config', undefined, { host: `localhost:${srv.port}` });
  assert.equal(ok.status, 200);
  assert.equal(control.applied.length, 0);
});
