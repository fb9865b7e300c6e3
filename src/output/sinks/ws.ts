/**
 * ws:// and wss:// — one WebSocket frame per chunk (per event, or per log line): a string chunk (text, JSON) is a
 * text frame, a Buffer chunk (protobuf) a binary frame, with no newline or length prefix (encoders use 'message'
 * framing for this sink). `base64: true` reproduces eCapture's own ws writer instead: every chunk as a text frame
 * holding its base64. For wss://, `ca` adds trusted certificates (e.g. a self-signed collector) and `insecure`
 * turns certificate checking off altogether.
 */
import { createRequire } from 'node:module';
import type WebSocketType from 'ws';
// `ws` is loaded on first use: most captures never open a WebSocket, and loading it costs startup time
let WebSocketClass: typeof WebSocketType | undefined;
function wsClass(): typeof WebSocketType {
  WebSocketClass ??= createRequire(import.meta.url)('ws') as typeof WebSocketType;
  return WebSocketClass;
}
const WS_OPEN = 1;
const WS_CLOSED = 3;
import { CaptureError } from '../../errors.js';
import { ReconnectingSink } from './network.js';
import type { Chunk, Done } from './queued.js';
import type { SinkOptions } from './types.js';

export interface WsSinkOptions extends SinkOptions {
  /** extra CA certificate(s) (PEM) to trust for wss:// */
  ca?: string | Buffer | Array<string | Buffer>;
  /** accept any certificate (self-signed without a CA): off by default */
  insecure?: boolean;
  /** eCapture-compatible framing: base64 text frames */
  base64?: boolean;
  /** extra request headers (e.g. Authorization) */
  headers?: Record<string, string>;
  /** default 5000 ms */
  handshakeTimeoutMs?: number;
}

export function parseWsAddress(address: string): URL {
  let u: URL;
  try {
    u = new URL(address);
  } catch (cause) {
    throw new CaptureError('ECAP_SINK', `invalid WebSocket address "${address}"`, { cause, hint: 'use ws://host:port/path or wss://...' });
  }
  if ((u.protocol !== 'ws:' && u.protocol !== 'wss:') || !u.hostname) {
    throw new CaptureError('ECAP_SINK', `invalid WebSocket address "${address}"`, { hint: 'use ws://host:port/path or wss://...' });
  }
  return u;
}

export class WsSink extends ReconnectingSink {
  readonly kind = 'ws' as const;
  readonly #url: URL;
  readonly #opts: WsSinkOptions;
  #ws: WebSocketType | undefined;

  constructor(address: string, opts: WsSinkOptions = {}) {
    const url = parseWsAddress(address);
    super(url.href, opts);
    this.#url = url;
    this.#opts = opts;
    this.start();
  }

  protected _connect(): void {
    const o = this.#opts;
    const ws = new (wsClass())(this.#url, {
      perMessageDeflate: false,
      handshakeTimeout: o.handshakeTimeoutMs ?? 5000,
      rejectUnauthorized: !o.insecure,
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(o.headers ? { headers: o.headers } : {}),
    });
    this.#ws = ws;
    let isDown = false;
    const down = (err?: unknown) => {
      if (isDown) return;
      isDown = true;
      if (this.#ws === ws) this.#ws = undefined;
      ws.terminate();
      this.down(err);
    };
    ws.once('open', () => this.opened());
    ws.on('error', (err) => down(err));
    ws.once('close', (code, reason) => down(code === 1005 || code === 1006 ? undefined : `closed ${code} ${reason.toString()}`));
    ws.on('message', () => {}); // nothing is expected from the server
  }

  protected _writable(): boolean {
    return this.#ws?.readyState === WS_OPEN;
  }

  protected _send(batch: Chunk[], done: Done): void {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WS_OPEN) {
      done(0, 'requeue');
      return;
    }
    const b64 = this.#opts.base64 === true;
    // ws calls the callbacks in order, once each frame is written to the socket (or failed)
    let ok = 0;
    let failed = false;
    let pending = batch.length;
    const cb = (err?: Error) => {
      if (err) failed = true;
      else if (!failed) ok++;
      if (--pending === 0) done(ok, failed ? 'requeue' : undefined);
    };
    for (const c of batch) {
      if (b64) ws.send(c.data.toString('base64'), { binary: false }, cb);
      else ws.send(c.data, { binary: !c.text }, cb);
    }
    // every frame went to the kernel synchronously: delivered now (the callbacks come later and are ignored)
    if (ws.bufferedAmount === 0) done(batch.length);
  }

  protected _disconnect(): Promise<void> {
    const ws = this.#ws;
    this.#ws = undefined;
    if (!ws || ws.readyState === WS_CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      ws.close(1000, 'ecapture: closing');
    });
  }
}
