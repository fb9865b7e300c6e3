/**
 * --listen host:port : the HTTP config API, with eCapture's routes and response shape
 * (`{"code":N,"module_type":"...","msg":"...","data":...}`, codes in control.ts), plus GET /config and GET /stats.
 *
 *   POST /tls /openssl /boringssl /gotls /bash /zsh /gnutls /nss /nspr /mysqld /postgres /postgress
 *        body: the module's config as JSON → validated (400 names the field) → applied to the running capture
 *   GET  /config   the running module and its config          GET /stats   counters
 *
 * Security: off unless --listen is given; a non-loopback bind requires a token, and when a token is set every
 * request needs `Authorization: Bearer <token>` (401 otherwise, checked before routing). Requests carrying an
 * Origin header (browsers) get 403, and on a loopback bind the Host header must name a loopback host (403
 * otherwise), so web pages cannot drive the API by CSRF or DNS rebinding. Bodies are capped (413). The API
 * never reads or serves files.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CaptureError } from '../errors.js';
import { RespCode, controlErrorReason } from './control.js';
import type { ApiResponse, ControlPlane } from './control.js';

export interface ApiServerOptions {
  /** 'host:port', ':port' (all interfaces), '[::1]:port' */
  listen: string;
  control: ControlPlane;
  /** required for a non-loopback bind; when set, required on every request */
  token?: string;
  /** default 1 MiB */
  maxBodyBytes?: number;
  /** configuration changes queued behind the one being applied before 503, default 10 (eCapture's channel) */
  maxPending?: number;
  onLog?: (level: 'info' | 'warn', message: string) => void;
}

export interface ApiServer {
  readonly host: string;
  readonly port: number;
  readonly loopback: boolean;
  close(): Promise<void>;
}

const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\]|localhost)$/i;

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new CaptureError('ECAP_CONFIG_FLAG', `--listen: expected host:port, got "${listen}"`, { hint: 'e.g. --listen 127.0.0.1:28256', details: { field: 'listen' } });
  }
  return { host: m[1] ?? m[2] ?? '', port };
}

export const isLoopback = (host: string) => LOOPBACK_HOST.test(host);

function digest(s: string): Buffer {
  return crypto.createHash('sha256').update(s).digest();
}

export function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { host, port } = parseListen(opts.listen);
  const loopback = host !== '' && isLoopback(host);
  if (!loopback && !opts.token) {
    return Promise.reject(new CaptureError('ECAP_CONFIG_FLAG', `--listen ${opts.listen}: a non-loopback address needs an API token`, {
      hint: 'give a token (clients send "Authorization: Bearer <token>"), or listen on 127.0.0.1', details: { field: 'listen' },
    }));
  }
  const want = opts.token ? digest(opts.token) : undefined;
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const maxPending = opts.maxPending ?? 10;
  const ctl = opts.control;
  const log = (level: 'info' | 'warn', m: string) => {
    try {
      opts.onLog?.(level, m);
    } catch {
      // ignore
    }
  };
  let chain: Promise<void> = Promise.resolve();
  let pending = 0;

  function send(res: http.ServerResponse, status: number, body: ApiResponse, headers: Record<string, string> = {}): void {
    // answered before the body was read: drain it so the keep-alive connection stays usable (413 closes instead)
    if (!res.req.complete && headers.connection !== 'close') res.req.resume();
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    });
    res.end(text);
  }
  const reply = (code: RespCode, module: string, msg: string, data: unknown = null): ApiResponse =>
    ({ code, module_type: module, msg, data });

  function authorized(req: http.IncomingMessage): boolean {
    if (!want) return true;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return m !== null && crypto.timingSafeEqual(digest(m[1]!), want);
  }

  function hostAllowed(req: http.IncomingMessage): boolean {
    if (!loopback) return true; // reachable by name from elsewhere: the token protects it
    const h = (req.headers.host ?? '').replace(/:\d+$/, '');
    return isLoopback(h);
  }

  function readBody(req: http.IncomingMessage): Promise<Buffer | 'too_large'> {
    return new Promise((resolve, reject) => {
      const len = Number(req.headers['content-length'] ?? NaN);
      if (len > maxBody) return resolve('too_large');
      const parts: Buffer[] = [];
      let size = 0;
      req.on('data', (d: Buffer) => {
        size += d.length;
        if (size > maxBody) {
          resolve('too_large');
          req.pause();
        } else parts.push(d);
      });
      req.on('end', () => resolve(Buffer.concat(parts)));
      req.on('error', reject);
    });
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    if (!authorized(req)) {
      return send(res, 401, reply(RespCode.InvalidRequest, '', 'unauthorized: send "Authorization: Bearer <token>"'),
        { 'www-authenticate': 'Bearer realm="ecapture"' });
    }
    if (req.headers.origin !== undefined || !hostAllowed(req)) {
      return send(res, 403, reply(RespCode.InvalidRequest, '', 'forbidden: browser or non-loopback Host requests are not accepted'));
    }
    if (path === '/config' || path === '/stats') {
      if (method !== 'GET') return send(res, 405, reply(RespCode.InvalidRequest, '', `${method} not allowed`), { allow: 'GET' });
      if (path === '/stats') return send(res, 200, reply(RespCode.OK, ctl.config().module, 'RespOK', ctl.stats()));
      const c = ctl.config();
      return send(res, 200, reply(RespCode.OK, c.module, 'RespOK', c.config));
    }
    const route = /^\/([A-Za-z0-9_-]+)$/.exec(path)?.[1];
    const module = route === undefined ? undefined : ctl.resolveModule(route.toLowerCase());
    if (module === undefined) return send(res, 404, reply(RespCode.NotFound, '', `unknown probe type: ${path}`));
    if (method !== 'POST') return send(res, 405, reply(RespCode.InvalidRequest, module, `${method} not allowed`), { allow: 'POST' });

    const raw = await readBody(req);
    if (raw === 'too_large') {
      return send(res, 413, reply(RespCode.ConfigDecodeFailed, module, `request body larger than ${maxBody} bytes`), { connection: 'close' });
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      return send(res, 400, reply(RespCode.ConfigDecodeFailed, module, `invalid JSON: ${(err as Error).message}`));
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return send(res, 400, reply(RespCode.ConfigDecodeFailed, module, 'the body must be a JSON object'));
    }
    const v = ctl.validate(module, body);
    if (!v.ok) {
      return send(res, 400, reply(RespCode.ConfigCheckFailed, module, `${v.field}: ${v.message}`, { field: v.field }));
    }
    if (pending >= maxPending + 1) {
      return send(res, 503, reply(RespCode.SendToChanFailed, module, 'RespSendToChanFailed: too many configuration changes pending'));
    }
    pending++;
    const run = chain.then(() => ctl.apply(module, v.config));
    chain = run.catch(() => {}).finally(() => pending--);
    try {
      await run;
    } catch (err) {
      const reason = controlErrorReason(err);
      const msg = err instanceof Error ? err.message : String(err);
      const field = err instanceof CaptureError ? err.details.field : undefined;
      if (reason === 'invalid') {
        return send(res, 400, reply(RespCode.ConfigCheckFailed, module, msg, field === undefined ? null : { field }));
      }
      if (reason === 'busy') return send(res, 503, reply(RespCode.SendToChanFailed, module, `RespSendToChanFailed: ${msg}`));
      log('warn', `config API: applying ${module} config failed: ${msg}`);
      return send(res, 500, reply(RespCode.InternalServer, module, msg));
    }
    log('info', `config API: ${module} configuration applied`);
    return send(res, 200, reply(RespCode.OK, module, 'RespOK'));
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, reply(RespCode.InternalServer, '', err instanceof Error ? err.message : String(err)));
      else res.destroy();
    });
  });
  server.requestTimeout = 15_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;

  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new CaptureError('ECAP_SERVER', `--listen ${opts.listen}: ${err.message}`, { cause: err, details: { field: 'listen' } })));
    server.listen({ host: host || undefined, port }, () => {
      const a = server.address() as AddressInfo;
      if (!loopback) log('warn', `config API listening on ${a.address}:${a.port} (non-loopback; token required)`);
      resolve({
        host: a.address,
        port: a.port,
        loopback,
        close: () => new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        }),
      });
    });
  });
}
