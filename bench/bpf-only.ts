/**
 * The kernel side of `ecapture tls` alone, for bench/e2e.ts: the tls module's BPF programs attached to
 * the libraries the CLI would hook, its ring buffer read and its samples decoded, but every record dropped
 * (no connection tracking, formatting or output; no exec watcher, which only sees exec/exit).
 * Prints "capture started" when attached; SIGINT stops.
 */
import { nullLogger } from '../src/log.js';
import { tlsDescriptor } from '../src/probes/tls/index.js';
import type { Config } from '../src/config/schema.js';

const config = { model: 'text', mapsize: 1024 } as unknown as Config;
const mod = (await tlsDescriptor.load())(config);
let records = 0;
const ac = new AbortController();
await mod.init({
  config,
  log: nullLogger,
  emit: () => void records++,
  wallClock: (ns) => BigInt(Math.round(ns)),
  onProcess: () => () => undefined,
  signal: ac.signal,
});
await mod.start();
process.stderr.write('capture started\n');
process.on('SIGINT', () => {
  void mod.close().then(() => {
    process.stderr.write(`captured ${records} events\n`);
    process.exit(0);
  });
});
