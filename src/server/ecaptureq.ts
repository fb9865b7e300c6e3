/**
 * --ecaptureq ws://host:port/ : a WebSocket server compatible with eCaptureQ (the GUI) and eCapture's demo client.
 *
 * Protocol (eCapture pkg/ecaptureq): every message is one binary frame holding a protobuf event.LogEntry.
 *  - heartbeat: on connect and every 15 s per client, LogEntry{HEARTBEAT, Heartbeat{timestamp: Unix seconds,
 *    count: n, message: "heartbeat:<n>"}}, n from 0 for each client;
 *  - run log: each line of the tool's own log as LogEntry{PROCESS_LOG, run_log}; the first 128 lines are kept and
 *    replayed to every client that connects later (eCapture does the same), and every line is broadcast to the
 *    clients connected at the time;
 *  - events: LogEntry{EVENT, Event{...}} with the Event fields filled (see src/output/encoders/protobuf.ts).
 * Any path is accepted (eCapture's Go mux serves "/" and everything under it). Client messages are read and ignored.
 *
 * Never blocking the capture: a message is encoded once and handed to each client's socket; a client whose unsent
 * backlog exceeds `maxClientBufferBytes` (8 MiB) or `maxClientQueue` messages (4096) is disconnected and counted,
 * the others carry on.
 */
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import type { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import { CaptureError } from '../errors.js';
import type { CaptureRecord } from '../model/records.js';
import { encodeLogEntry, eventEntry, heartbeatEntry, runLogEntry } from '../output/encoders/protobuf.js';
import type { TextOf } from '../output/encoders/types.js';

export interface ECaptureQOptions {
  /** default 15000 */
  heartbeatMs?: number;
  /** run-log lines kept for replay, default 128 */
  replayLines?: number;
  /** per-client unsent bytes before the client is dropped, default 8 MiB */
  maxClientBufferBytes?: number;
  /** per-client unsent messages before the client is dropped, default 4096 (eCapture: a 256-message channel) */
  maxClientQueue?: number;
  onNotice?: (level: 'info' | 'warn', message: string) => void;
  /** clock for heartbeat timestamps (ms), for tests */
  now?: () => number;
}

export interface ECaptureQStats {
  clients: number;
  connections: number;
  events: number;
  logs: number;
  heartbeats: number;
  /** clients disconnected for falling behind */
  droppedClients: number;
  /** messages not delivered to the clients that were dropped (in their backlog when dropped) */
  droppedMessages: number;
  bytesSent: number;
}

interface Client {
  ws: WebSocket;
  beats: number;
  pending: number;
  timer: NodeJS.Timeout;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i;

export function parseECaptureQUrl(url: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new CaptureError('ECAP_CONFIG_FLAG', `--ecaptureq: invalid URL "${url}"`, { cause, hint: 'e.g. --ecaptureq ws://127.0.0.1:28257/', details: { field: 'ecaptureq' } });
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(u.port);
  if (u.protocol !== 'ws:' || !host || !u.port || !Number.isInteger(port) || port > 65535) {
    throw new CaptureError('ECAP_CONFIG_FLAG', `--ecaptureq: expected ws://host:port/, got "${url}"`, { hint: 'e.g. --ecaptureq ws://127.0.0.1:28257/', details: { field: 'ecaptureq' } });
  }
  return { host, port };
}

export class ECaptureQServer {
  readonly #heartbeatMs: number;
  readonly #replayMax: number;
  readonly #maxBytes: number;
  readonly #maxQueue: number;
  readonly #onNotice: ECaptureQOptions['onNotice'];
  readonly #now: () => number;
  #wss: WebSocketServer | undefined;
  #clients = new Set<Client>();
  #replay: Buffer[] = [];
  #st: ECaptureQStats = { clients: 0, connections: 0, events: 0, logs: 0, heartbeats: 0, droppedClients: 0, droppedMessages: 0, bytesSent: 0 };

  constructor(opts: ECaptureQOptions = {}) {
    this.#heartbeatMs = opts.heartbeatMs ?? 15_000;
    this.#replayMax = opts.replayLines ?? 128;
    this.#maxBytes = opts.maxClientBufferBytes ?? 8 * 1024 * 1024;
    this.#maxQueue = opts.maxClientQueue ?? 4096;
    this.#onNotice = opts.onNotice;
    this.#now = opts.now ?? Date.now;
  }

  /** Listen on the URL's host:port. Port 0 picks a free port (see the resolved address). */
  start(url: string): Promise<{ host: string; port: number }> {
    const { host, port } = parseECaptureQUrl(url);
    if (!LOOPBACK.test(host)) {
      this.#notice('warn', `eCaptureQ server on ${host}:${port} streams captured plaintext to anyone who can connect to it`);
    }
    return new Promise((resolve, reject) => {
      const WSS = (createRequire(import.meta.url)('ws') as typeof import('ws')).WebSocketServer; // loaded on first use
      const wss = new WSS({ host, port, perMessageDeflate: false, maxPayload: 64 * 1024, clientTracking: false });
      wss.once('error', (err) => {
        reject(new CaptureError('ECAP_SERVER', `eCaptureQ addr listen failed: ${err.message}`, { cause: err, details: { field: 'ecaptureq' } }));
      });
      wss.once('listening', () => {
        wss.on('error', (err) => this.#notice('warn', `eCaptureQ server: ${err.message}`));
        this.#wss = wss;
        const a = wss.address() as AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
      wss.on('connection', (ws) => this.#onConnection(ws));
    });
  }

  #onConnection(ws: WebSocket): void {
    const c: Client = { ws, beats: 0, pending: 0, timer: setInterval(() => this.#heartbeat(c), this.#heartbeatMs) };
    c.timer.unref();
    this.#clients.add(c);
    this.#st.connections++;
    ws.on('message', () => {}); // eCapture reads and ignores client messages
    ws.on('error', () => {});
    ws.once('close', () => {
      clearInterval(c.timer);
      this.#clients.delete(c);
    });
    this.#heartbeat(c);
    for (const m of this.#replay) this.#send(c, m);
  }

  #heartbeat(c: Client): void {
    this.#st.heartbeats++;
    this.#send(c, encodeLogEntry(heartbeatEntry(c.beats++, this.#now())));
  }

  #send(c: Client, msg: Buffer): void {
    if (c.ws.readyState !== c.ws.OPEN) return;
    if (c.pending >= this.#maxQueue || c.ws.bufferedAmount + msg.length > this.#maxBytes) {
      this.#st.droppedClients++;
      this.#st.droppedMessages += c.pending + 1;
      this.#notice('warn', `eCaptureQ client dropped: it fell behind (${c.pending} messages, ${c.ws.bufferedAmount} bytes unsent)`);
      clearInterval(c.timer);
      this.#clients.delete(c);
      c.ws.terminate();
      return;
    }
    c.pending++;
    c.ws.send(msg, { binary: true }, (err) => {
      c.pending--;
      if (!err) this.#st.bytesSent += msg.length;
    });
  }

  #broadcast(msg: Buffer): void {
    for (const c of [...this.#clients]) this.#send(c, msg);
  }

  /** One line of the tool's own log. */
  pushLog(line: string): void {
    this.#st.logs++;
    const msg = encodeLogEntry(runLogEntry(line));
    if (this.#replay.length < this.#replayMax) this.#replay.push(msg);
    this.#broadcast(msg);
  }

  /** One captured record; `textOf` gives its text rendering (Event.payload). */
  pushEvent(rec: CaptureRecord, textOf: TextOf): void {
    this.#st.events++;
    if (this.#clients.size === 0) return;
    this.#broadcast(encodeLogEntry(eventEntry(rec, textOf)));
  }

  stats(): ECaptureQStats {
    return { ...this.#st, clients: this.#clients.size };
  }

  async close(): Promise<void> {
    const wss = this.#wss;
    this.#wss = undefined;
    const clients = [...this.#clients];
    this.#clients.clear();
    await Promise.all(clients.map((c) => new Promise<void>((resolve) => {
      clearInterval(c.timer);
      const t = setTimeout(() => {
        c.ws.terminate();
        resolve();
      }, 500);
      c.ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      c.ws.close(1001, 'ecapture: shutting down');
    })));
    if (wss) await new Promise<void>((resolve) => wss.close(() => resolve()));
  }

  #notice(level: 'info' | 'warn', message: string): void {
    try {
      this.#onNotice?.(level, message);
    } catch {
      // never let a notice handler break the server
    }
  }
}
