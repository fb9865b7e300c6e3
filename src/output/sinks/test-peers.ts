/**
 * Real peers for the sink and server tests, all on 127.0.0.1: a TCP line collector, a ws/wss message collector
 * (wss with a self-signed certificate made by `openssl req -x509` at test time), and small helpers.
 * Test support only; nothing in the tool imports it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import type { Sink } from './types.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export type StopMode = 'graceful' | 'hard';

/** Collects newline-terminated lines from every connection, in arrival order. */
export class LineServer {
  readonly lines: string[] = [];
  bytes = 0;
  connections = 0;
  port = 0;
  #server: net.Server | undefined;
  #socks = new Set<net.Socket>();

  static async start(port = 0): Promise<LineServer> {
    const s = new LineServer();
    await s.listen(port);
    return s;
  }

  listen(port = this.port): Promise<void> {
    const server = net.createServer((sock) => {
      this.connections++;
      this.#socks.add(sock);
      let rest = '';
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        this.bytes += Buffer.byteLength(d);
        const parts = (rest + d).split('\n');
        rest = parts.pop()!;
        this.lines.push(...parts);
      });
      sock.on('error', () => {});
      sock.on('close', () => this.#socks.delete(sock));
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  /** graceful: stop listening, half-close each connection and read until the client closes; hard: reset now. */
  async stop(mode: StopMode = 'graceful'): Promise<void> {
    const closed = new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
    const socks = [...this.#socks];
    if (mode === 'hard') for (const s of socks) s.destroy();
    else {
      await Promise.all(socks.map((s) => new Promise<void>((r) => {
        s.once('close', () => r());
        s.end();
      })));
    }
    await closed;
  }
}

export interface TlsFiles {
  dir: string;
  key: string;
  cert: string;
}

/** A self-signed certificate for 127.0.0.1 / localhost, made with the openssl CLI. */
export function selfSignedCert(): TlsFiles {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecap-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  return { dir, key, cert };
}

/** Collects WebSocket messages (text as string, binary as Buffer) from every client, in arrival order. */
export class WsCollector {
  readonly messages: Array<string | Buffer> = [];
  connections = 0;
  port = 0;
  #wss: WebSocketServer | undefined;
  #https: https.Server | undefined;
  readonly #tls: TlsFiles | undefined;

  constructor(tls?: TlsFiles) {
    this.#tls = tls;
  }

  static async start(tls?: TlsFiles, port = 0): Promise<WsCollector> {
    const c = new WsCollector(tls);
    await c.listen(port);
    return c;
  }

  get url(): string {
    return `${this.#tls ? 'wss' : 'ws'}://127.0.0.1:${this.port}/events`;
  }

  listen(port = this.port): Promise<void> {
    return new Promise((resolve, reject) => {
      const onConn = (ws: WebSocket) => {
        this.connections++;
        ws.on('message', (data: Buffer, isBinary: boolean) => this.messages.push(isBinary ? data : data.toString('utf8')));
        ws.on('error', () => {});
      };
      if (this.#tls) {
        const server = https.createServer({ key: fs.readFileSync(this.#tls.key), cert: fs.readFileSync(this.#tls.cert) });
        this.#https = server;
        this.#wss = new WebSocketServer({ server });
        this.#wss.on('connection', onConn);
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          this.port = (server.address() as net.AddressInfo).port;
          resolve();
        });
      } else {
        const wss = new WebSocketServer({ host: '127.0.0.1', port });
        this.#wss = wss;
        wss.on('connection', onConn);
        wss.once('error', reject);
        wss.once('listening', () => {
          this.port = (wss.address() as net.AddressInfo).port;
          resolve();
        });
      }
    });
  }

  /** graceful: close handshake with every client (their frames sent before it are received); hard: terminate. */
  async stop(mode: StopMode = 'graceful'): Promise<void> {
    const wss = this.#wss!;
    const clients = [...wss.clients];
    await Promise.all(clients.map((ws) => new Promise<void>((r) => {
      ws.once('close', () => r());
      if (mode === 'hard') ws.terminate();
      else ws.close(1001, 'going away');
    })));
    await new Promise<void>((r) => wss.close(() => r()));
    if (this.#https) await new Promise<void>((r) => this.#https!.close(() => r()));
  }
}

/**
 * Write `n` events `ev NNNNNN\n` (10 bytes), `perTick` per millisecond, never waiting for the sink (like the
 * capture path); `at(i)` runs before event i is written and must not block (start async work, don't await it).
 */
export async function produce(sink: Sink, n: number, perTick = 4, at?: (i: number) => void): Promise<void> {
  let i = 0;
  while (i < n) {
    for (let k = 0; k < perTick && i < n; k++, i++) {
      at?.(i);
      sink.write(evLine(i));
    }
    await sleep(1);
  }
}

export const evLine = (i: number) => `ev ${String(i).padStart(6, '0')}\n`;
export const evIndex = (line: string) => Number(line.trim().slice(3));
