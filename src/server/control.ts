/**
 * The HTTP config API's only view of the rest of the program. The CLI implements ControlPlane over the module
 * registry (one schema validates both CLI flags and API bodies) and the running capture; tests use a fake.
 */
import { CaptureError } from '../errors.js';

export type ValidateResult = { ok: true; config: unknown } | { ok: false; field: string; message: string };

export interface ControlPlane {
  /** A route's name without the slash ('tls', 'openssl', 'postgress', ...) → module name, or undefined (404). */
  resolveModule(route: string): string | undefined;
  /** Check a JSON body against the module's schema (the same one the CLI flags use). */
  validate(module: string, body: unknown): ValidateResult;
  /**
   * Apply a validated config to the running capture without restarting the process and without losing events of
   * other connections. Reject with `controlError(...)` to choose the response: 'invalid' → 400, 'busy' → 503,
   * anything else → 500.
   */
  apply(module: string, config: unknown): Promise<void>;
  /** The running module and its effective config (GET /config). Must not contain secrets such as the API token. */
  config(): { module: string; config: unknown };
  /** Counters for GET /stats: events, bytes, lost, dropped per sink, ... */
  stats(): unknown;
}

/** eCapture's HTTP API routes (cli/http/server.go) → our module names; /zsh added, /postgress kept as an alias. */
export const DEFAULT_ROUTES: Readonly<Record<string, string>> = Object.freeze({
  tls: 'tls',
  openssl: 'tls',
  boringssl: 'tls',
  gotls: 'gotls',
  bash: 'bash',
  zsh: 'zsh',
  gnutls: 'gnutls',
  nss: 'nss',
  nspr: 'nss',
  mysqld: 'mysqld',
  postgres: 'postgres',
  postgress: 'postgres',
});

/** eCapture's response codes (cli/http/resp.go). */
export const RespCode = {
  OK: 0,
  InvalidRequest: 1,
  InternalServer: 2,
  NotFound: 3,
  ConfigDecodeFailed: 4,
  ConfigCheckFailed: 5,
  SendToChanFailed: 6,
} as const;
export type RespCode = (typeof RespCode)[keyof typeof RespCode];

/** `{"code":N,"module_type":"...","msg":"...","data":...}` */
export interface ApiResponse {
  code: RespCode;
  module_type: string;
  msg: string;
  data: unknown;
}

export type ControlErrorReason = 'invalid' | 'busy' | 'failed';

/** An error for ControlPlane.apply to reject with. */
export function controlError(reason: ControlErrorReason, message: string, field?: string): CaptureError {
  return new CaptureError(reason === 'invalid' ? 'ECAP_CONFIG' : 'ECAP_SERVER', message, { details: { reason, field } });
}

export function controlErrorReason(err: unknown): ControlErrorReason {
  if (err instanceof CaptureError) {
    const r = err.details.reason;
    if (r === 'invalid' || r === 'busy' || r === 'failed') return r;
    if (err.code === 'ECAP_CONFIG' || err.code === 'ECAP_CONFIG_FLAG') return 'invalid';
  }
  return 'failed';
}
