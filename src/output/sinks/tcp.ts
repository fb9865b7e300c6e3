/**
 * tcp://host:port — a raw byte stream to a collector (e.g. `nc -lk`, Vector/Fluent Bit/Logstash tcp input).
 * Chunks are concatenated into batches of up to maxBatchBytes per socket write. The sink never reads from the peer;
 * the peer closing its side (FIN) counts as the connection going away.
 *
 * Limit of plain TCP: bytes the kernel accepted just before the peer vanished cannot be confirmed (there is no
 * application-level acknowledgement); everything the sink discarded itself is counted exactly in `dropped`.
 */
import net from 'node:net';
import { CaptureError } from '../../errors.js';
import { ReconnectingSink } from './network.js';
import type { Chunk, Done } from './queued.js';
import type { SinkOptions } from './types.js';

export interface TcpTarget {
  host: string;
  port: number;
}

/** Parse tcp://host:port (IPv6 in brackets). */
export function parseTcpAddress(address: string): TcpTarget {
  let u: URL;
  try {
    u = new URL(address);
  } catch (cause) {
    throw new CaptureError('ECAP_SINK', `invalid tcp address "${address}"`, { cause, hint: 'use tcp://host:port' });
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(u.port);
  if (u.protocol !== 'tcp:' || !host || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CaptureError('ECAP_SINK', `invalid tcp address "${address}"`, { hint: 'use tcp://host:port' });
  }
  return { host, port };
}

export class TcpSink extends ReconnectingSink {
  readonly kind = 'tcp' as const;
  readonly #target: TcpTarget;
  #sock: net.Socket | undefined;

  constructor(address: string, opts: SinkOptions = {}) {
    const target = parseTcpAddress(address);
    super(`tcp://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`, opts);
    this.#target = target;
    this.start();
  }

  protected _connect(): void {
    const sock = net.connect({ host: this.#target.host, port: this.#target.port });
    this.#sock = sock;
    let isDown = false;
    const down = (err?: unknown) => {
      if (isDown) return;
      isDown = true;
      if (this.#sock === sock) this.#sock = undefined;
      sock.destroy();
      this.down(err);
    };
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 30_000);
    sock.once('connect', () => this.opened());
    sock.on('data', () => {}); // ignore anything the peer sends
    sock.once('end', () => down()); // peer closed its side
    sock.once('error', (err) => down(err));
    sock.once('close', () => down());
  }

  protected _writable(): boolean {
    const s = this.#sock;
    return s !== undefined && !s.destroyed && s.writable;
  }

  protected _send(batch: Chunk[], done: Done): void {
    const sock = this.#sock;
    if (!sock || sock.destroyed || !sock.writable) {
      done(0, 'requeue');
      return;
    }
    const buf = batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((c) => c.data));
    sock.write(buf, (err) => (err ? done(0, 'requeue') : done(batch.length)));
    // written to the kernel synchronously (nothing left in Node's buffer): the batch is delivered now, so the
    // pump can continue in this turn; otherwise the callback above reports when the kernel takes it
    if (sock.writableLength === 0) done(batch.length);
  }

  protected _disconnect(): Promise<void> {
    const sock = this.#sock;
    this.#sock = undefined;
    if (!sock || sock.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        sock.destroy();
        resolve();
      }, 1000);
      sock.end(() => {
        clearTimeout(t);
        sock.destroy();
        resolve();
      });
    });
  }
}
