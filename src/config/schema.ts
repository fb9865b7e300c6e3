/**
 * One schema for the CLI and the HTTP config API: a JSON Schema built from the option specs, validated
 * with ajv. CLI strings are coerced to typed values first; JSON bodies may use our camelCase keys or
 * eCapture's JSON keys (opensslpath, capturemode, ...). Errors name the offending field.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Ajv as AjvType, ErrorObject, ValidateFunction } from 'ajv';
import { findOption, type OptionSpec } from './options.js';
import { projectRoot } from '../util/paths.js';

const require = createRequire(import.meta.url);

/**
 * Validators are compiled by ajv ahead of time (scripts/gen-validators.ts writes build/validators/h<hash>.cjs
 * at build time): compiling at run time costs ~150 ms of CPU at every start. A validator is used only when
 * the hash of the schema it was compiled from equals the hash of the schema now; otherwise (a stale build)
 * ajv compiles it at run time, so the result is always right.
 */
export const PRECOMPILED_DIR = join(projectRoot, 'build', 'validators');

/** The ahead-of-time validator of a schema, if the build has one for exactly this schema. */
export function precompiledValidator(hash: string): ValidateFunction | undefined {
  const path = join(PRECOMPILED_DIR, `h${hash}.cjs`);
  try {
    return existsSync(path) ? ((require(path) as Record<string, ValidateFunction>)[`h${hash}`] ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

export function schemaHash(schema: unknown): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex').slice(0, 16);
}


export type ConfigValue = string | number | boolean | undefined;
export type Config = Record<string, ConfigValue>;

export type ValidationResult = { ok: true; config: Config } | { ok: false; field: string; message: string };

function schemaOf(spec: OptionSpec): Record<string, unknown> {
  switch (spec.type) {
    case 'int': {
      const s: Record<string, unknown> = { type: 'integer' };
      if (spec.min !== undefined) s.minimum = spec.min;
      if (spec.max !== undefined) s.maximum = spec.max;
      return s;
    }
    case 'bool':
      return { type: 'boolean' };
    case 'enum':
      return { type: 'string', enum: [...(spec.choices ?? [])] };
    default:
      return { type: 'string', maxLength: 4096 };
  }
}

/** JSON Schema (draft-07) for a module's full config (global + module options). */
export function jsonSchema(specs: readonly OptionSpec[]): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const s of specs) properties[s.key] = { ...schemaOf(s), description: s.description };
  return { type: 'object', properties, additionalProperties: false };
}

const compiled = new WeakMap<readonly OptionSpec[], ValidateFunction>();

/** ajv options shared with the ahead-of-time compiler. */
export const AJV_OPTIONS = { allErrors: false, strict: true } as const;

function validator(specs: readonly OptionSpec[]): ValidateFunction {
  let v = compiled.get(specs);
  if (v) return v;
  const schema = jsonSchema(specs);
  v = precompiledValidator(schemaHash(schema));
  if (!v) {
    const { Ajv } = require('ajv') as { Ajv: new (o: object) => AjvType };
    v = new Ajv(AJV_OPTIONS).compile(schema);
  }
  compiled.set(specs, v);
  return v;
}

function fieldOf(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') return String((e.params as { additionalProperty?: string }).additionalProperty);
  return e.instancePath.replace(/^\//, '') || '(root)';
}

/** Normalize enum aliases and case: 'PCAPNG' → 'pcap'. */
function normalizeEnum(spec: OptionSpec, v: unknown): unknown {
  if (spec.type !== 'enum' || typeof v !== 'string') return v;
  const low = v.toLowerCase();
  return spec.aliases?.[low] ?? low;
}

/**
 * Validate a JSON object (HTTP API body, config file). Keys may be camelCase keys, flag names or eCapture
 * JSON aliases. Unknown keys are rejected. Defaults are filled in.
 */
export function validateJson(specs: readonly OptionSpec[], body: unknown, base: Config = {}): ValidationResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, field: '(root)', message: 'the config must be a JSON object' };
  }
  const cfg: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const spec = findOption(specs, k);
    if (!spec) return { ok: false, field: k, message: `unknown field "${k}"` };
    if (v === null) continue;
    cfg[spec.key] = normalizeEnum(spec, v);
  }
  const v = validator(specs);
  if (!v(cfg)) {
    const e = v.errors![0]!;
    const field = fieldOf(e);
    return { ok: false, field, message: `${field}: ${e.message ?? 'invalid'}` };
  }
  return { ok: true, config: withDefaults(specs, { ...base, ...(cfg as Config) }) };
}

/** Coerce CLI option values (strings/booleans from the parser) and validate them with the same schema. */
export function validateCli(specs: readonly OptionSpec[], raw: Record<string, unknown>): ValidationResult {
  const cfg: Record<string, unknown> = {};
  for (const s of specs) {
    const v = raw[s.key];
    if (v === undefined) continue;
    if (s.type === 'int') {
      const str = String(v).trim();
      if (!/^(0x[0-9a-f]+|\d+)$/i.test(str)) {
        return { ok: false, field: s.key, message: `--${s.long}: "${str}" is not a non-negative integer` };
      }
      cfg[s.key] = Number(str);
    } else if (s.type === 'enum') {
      cfg[s.key] = normalizeEnum(s, String(v));
    } else {
      cfg[s.key] = v;
    }
  }
  const v = validator(specs);
  if (!v(cfg)) {
    const e = v.errors![0]!;
    const key = fieldOf(e);
    const spec = specs.find((s) => s.key === key);
    const name = spec ? `--${spec.long}` : key;
    const detail =
      e.keyword === 'enum' && spec?.choices ? `must be one of ${spec.choices.join(', ')}` : (e.message ?? 'invalid');
    return { ok: false, field: key, message: `${name}: ${detail} (got ${JSON.stringify(cfg[key])})` };
  }
  return { ok: true, config: withDefaults(specs, cfg as Config) };
}

export function withDefaults(specs: readonly OptionSpec[], cfg: Config): Config {
  const out: Config = { ...cfg };
  for (const s of specs) if (out[s.key] === undefined && s.default !== undefined) out[s.key] = s.default;
  return out;
}
