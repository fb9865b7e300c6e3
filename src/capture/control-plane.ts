/**
 * The HTTP config API's view of a running capture (src/server/control.ts): validation with the same schema
 * as the CLI flags, and changes applied to the running capture — filters live in the kernel, output
 * settings by swapping encoders/sinks, other module settings by restarting the module.
 */
import type { Config } from '../config/schema.js';
import { validateJson } from '../config/schema.js';
import { globalOptions } from '../config/options.js';
import { findModule } from '../registry.js';
import type { RootLogger } from '../log.js';
import { controlError, type ControlPlane, type ValidateResult } from '../server/control.js';
import type { CaptureRuntime } from './runtime.js';
import type { OutputManager } from './outputs.js';
import type { Pipeline } from './pipeline.js';

const SECRET_KEYS = new Set(['apiToken']);

export class CaptureControlPlane implements ControlPlane {
  constructor(
    private readonly runtime: CaptureRuntime,
    private readonly outputs: OutputManager,
    private readonly pipeline: Pipeline,
    private readonly log: RootLogger,
  ) {}

  resolveModule(route: string): string | undefined {
    return findModule(route)?.name;
  }

  validate(module: string, body: unknown): ValidateResult {
    const d = findModule(module);
    if (!d) return { ok: false, field: '(route)', message: `unknown module ${module}` };
    // a body may carry only the settings to change: the rest stays as it is
    const base = d.name === this.runtime.descriptor.name ? this.runtime.config : {};
    return validateJson([...globalOptions, ...d.options], body, base);
  }

  async apply(module: string, config: unknown): Promise<void> {
    const running = this.runtime.descriptor.name;
    if (module !== running) {
      throw controlError('invalid', `this process captures with the ${running} module; it cannot switch to ${module} (start another ecapture for it)`, 'module');
    }
    const cfg = config as Config;
    for (const k of ['listen', 'ecaptureq', 'apiToken'] as const) {
      if (JSON.stringify(cfg[k] ?? '') !== JSON.stringify(this.runtime.config[k] ?? '')) {
        throw controlError('invalid', `${k} cannot be changed while running`, k);
      }
    }
    try {
      await this.outputs.apply(cfg);
      const how = await this.runtime.reconfigure(cfg);
      this.log.setLevel(cfg.debug ? 'debug' : 'info');
      this.log.info('configuration updated through the HTTP API', { module, how });
    } catch (e) {
      throw controlError('failed', (e as Error).message);
    }
  }

  config(): { module: string; config: unknown } {
    const c: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.runtime.config)) if (!SECRET_KEYS.has(k)) c[k] = v;
    return { module: this.runtime.descriptor.name, config: c };
  }

  stats(): unknown {
    const m = this.runtime.stats();
    return {
      module: this.runtime.descriptor.name,
      events: m.events ?? 0,
      bytes: m.bytes ?? 0,
      lost: m.lostEvents ?? 0,
      lostBytes: m.lostBytes ?? 0,
      counters: m,
      pipeline: { ...this.pipeline.counters, ...this.pipeline.stageStats() },
      outputs: this.outputs.stats(),
    };
  }
}
