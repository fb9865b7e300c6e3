/**
 * Running one capture from the CLI: logger and banner, outputs, pipeline, signals, live counters, summary.
 * Lazily imported by main.ts so `--help` never loads libbpf.
 */
import { openSync, constants as fsc } from 'node:fs';
import { CaptureError } from '../errors.js';
import type { Config } from '../config/schema.js';
import type { ModuleDescriptor } from '../registry.js';
import { createLogger } from '../log.js';
import { Pipeline, GapStage } from '../capture/pipeline.js';
import { EncodedOutput, FdSink } from '../capture/encoded-output.js';
import { encodeText } from '../output/encoders/text.js';
import { runCapture, type RunSummary } from '../capture/runtime.js';
import type { CliIo } from './main.js';
import { versionLine } from './version.js';

function openEventFile(path: string): number {
  try {
    return openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_APPEND | fsc.O_NOFOLLOW, 0o600);
  } catch (cause) {
    throw new CaptureError('ECAP_OUTPUT', `open --eventaddr ${path}: ${(cause as Error).message}`, {
      cause,
      hint: 'check that the directory exists and is writable, and that the path is not a symlink',
    });
  }
}

function summaryLines(s: RunSummary): string[] {
  const m = s.module;
  const lines = [
    `captured ${m.events ?? 0} events, ${m.bytes ?? 0} bytes from ${m.targets ?? 0} hooked files in ${(s.durationMs / 1000).toFixed(1)} s`,
    `lost ${m.lostEvents ?? 0} events (${m.lostBytes ?? 0} bytes) in the kernel; ${s.pipeline.gaps ?? 0} gaps shown; ${m.decodeErrors ?? 0} undecodable samples`,
  ];
  for (const [name, o] of Object.entries(s.outputs)) {
    if (Number(o.dropped ?? 0) > 0) lines.push(`output ${name}: ${o.dropped} writes dropped`);
  }
  return lines;
}

export async function runCommand(d: ModuleDescriptor, config: Config, io: CliIo): Promise<number> {
  const log = createLogger({ level: config.debug ? 'debug' : 'info' });
  log.info('eCapture-compatible capture', { AppName: 'ecapture-ts', Version: versionLine().split('\t')[1] });
  log.debug('config', { config: JSON.stringify(config) });

  const pipeline = new Pipeline(new GapStage());
  const eventaddr = String(config.eventaddr ?? '');
  const fd = eventaddr && eventaddr !== 'stdout' ? openEventFile(eventaddr) : 1;
  const sink = new FdSink(fd, eventaddr || 'stdout');
  const textOpts = { hex: !!config.hex, tsize: Number(config.tsize ?? 0) };
  pipeline.addOutput(new EncodedOutput('events', (r) => encodeText(r, textOpts), sink));

  const ac = new AbortController();
  const onSignal = (sig: string): void => {
    if (ac.signal.aborted) {
      log.warn('second signal: exiting now', { signal: sig });
      process.exit(130);
    }
    log.info('stopping: detaching probes and flushing output', { signal: sig });
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await runCapture({ descriptor: d, config, log, pipeline, signal: ac.signal, progress: true });
    await pipeline.close();
    for (const l of summaryLines(summary)) io.err(`${l}\n`);
    log.debug('summary', { summary: JSON.stringify(summary) });
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
