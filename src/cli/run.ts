/**
 * Running one capture from the CLI: logger, outputs (before anything is attached, so a bad output fails
 * first), the capture runtime, the HTTP config API, signals, live counters and the summary.
 * Lazily imported by main.ts so `--help` never loads libbpf.
 */
import type { Config } from '../config/schema.js';
import type { ModuleDescriptor } from '../registry.js';
import { createLogger } from '../log.js';
import { Pipeline, type RecordStage } from '../capture/pipeline.js';
import { OutputManager } from '../capture/outputs.js';
import { CaptureRuntime, type RunSummary } from '../capture/runtime.js';
import { CaptureControlPlane } from '../capture/control-plane.js';
import { isLoopback, parseListen, startApiServer, type ApiServer } from '../server/api.js';
import { CaptureError } from '../errors.js';
import type { CliIo } from './main.js';
import { versionLine } from './version.js';

function summaryLines(s: RunSummary, outputs: Record<string, Record<string, number | string | boolean>>): string[] {
  const m = s.module;
  const lines = [
    `captured ${m.events ?? 0} events, ${m.bytes ?? 0} bytes from ${m.targets ?? 0} hooked files in ${(s.durationMs / 1000).toFixed(1)} s`,
    `lost ${m.lostEvents ?? 0} events (${m.lostBytes ?? 0} bytes) in the kernel; ${s.pipeline.gaps ?? 0} gaps shown; ${m.decodeErrors ?? 0} undecodable samples`,
  ];
  for (const [name, o] of Object.entries(outputs)) {
    if (Number(o.dropped ?? 0) > 0) lines.push(`output ${name} (${String(o.name ?? '')}): ${o.dropped} writes dropped`);
  }
  return lines;
}

/** The connection tracker (ordering, gaps, protocol parsing). */
async function makeStage(config: Config): Promise<{ stage: RecordStage; formatL7?: unknown }> {
  const { createStage } = await import('../conn/stage.js');
  const { usePerfBuffer } = await import('../probes/common/load.js');
  return createStage(config, { ordered: !usePerfBuffer() });
}

export async function runCommand(d: ModuleDescriptor, config: Config, io: CliIo): Promise<number> {
  const log = createLogger({ level: config.debug ? 'debug' : 'info' });
  log.info('eCapture-compatible capture', { AppName: 'ecapture-ts', Version: versionLine().split('\t')[1] });
  log.debug('config', { config: JSON.stringify({ ...config, apiToken: config.apiToken ? '***' : undefined }) });

  const { stage, formatL7 } = await makeStage(config);
  const pipeline = new Pipeline(stage);
  const outputs = new OutputManager(log, pipeline);
  if (formatL7) outputs.setL7Formatter(formatL7 as never);
  await outputs.apply(config);

  // refuse a bad --listen before anything is attached
  const token = String(config.apiToken ?? process.env.ECAPTURE_API_TOKEN ?? '') || undefined;
  if (config.listen) {
    const { host } = parseListen(String(config.listen));
    if (!isLoopback(host) && !token) {
      await outputs.close();
      throw new CaptureError('ECAP_CONFIG', `--listen ${String(config.listen)} is not a loopback address: the HTTP config API then requires a token`, {
        hint: 'set --api-token (or ECAPTURE_API_TOKEN), or listen on 127.0.0.1',
      });
    }
  }
  const runtime = new CaptureRuntime({ descriptor: d, config, log, pipeline, progress: true });
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
  let api: ApiServer | undefined;
  try {
    try {
      await runtime.start();
    } catch (e) {
      await runtime.stop().catch(() => undefined);
      throw e;
    }
    if (config.listen) {
      const o: Parameters<typeof startApiServer>[0] = {
        listen: String(config.listen),
        control: new CaptureControlPlane(runtime, outputs, pipeline, log),
        onLog: (level, message) => log[level](message),
      };
      if (token) o.token = token;
      api = await startApiServer(o);
      log.info('HTTP config API listening', { listen: `${api.host}:${api.port}` });
    }
    if (!ac.signal.aborted) await new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), { once: true }));
    await api?.close();
    api = undefined;
    const summary = await runtime.stop();
    const outStats = outputs.stats();
    await outputs.close();
    for (const l of summaryLines(summary, outStats)) io.err(`${l}\n`);
    log.debug('summary', { summary: JSON.stringify(summary) });
    return 0;
  } catch (e) {
    await api?.close().catch(() => undefined);
    await runtime.stop().catch(() => undefined);
    await outputs.close().catch(() => undefined);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
