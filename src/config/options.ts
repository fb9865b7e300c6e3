/**
 * Option specifications: ONE list per module (plus the global list) from which the CLI flags, the JSON
 * schema used by the HTTP config API, the help text and the README's flag table are all derived.
 */

export type OptionType = 'int' | 'string' | 'bool' | 'enum';

export interface OptionSpec {
  /** camelCase config key (also the JSON key of our config API) */
  key: string;
  /** long flag without dashes, exactly as eCapture spells it (e.g. 'cgroup_path', 'ssl_version') */
  long: string;
  short?: string;
  type: OptionType;
  /** for enums: accepted values (case-insensitive), first is canonical per alias group */
  choices?: readonly string[];
  /** enum value aliases → canonical value */
  aliases?: Readonly<Record<string, string>>;
  default?: string | number | boolean;
  min?: number;
  max?: number;
  /** placeholder in help, e.g. <pid> */
  arg?: string;
  description: string;
  /** eCapture's JSON key(s) for the same setting in its HTTP config API */
  jsonAliases?: readonly string[];
  /** can be changed on a running capture through the HTTP API */
  live?: boolean;
  /** not shown in help */
  hidden?: boolean;
}

export const globalOptions: readonly OptionSpec[] = [
  { key: 'pid', long: 'pid', short: 'p', type: 'int', default: 0, min: 0, max: 4194304, arg: 'pid', live: true,
    description: 'capture only this process id (0 = all processes)', jsonAliases: ['pid'] },
  { key: 'uid', long: 'uid', short: 'u', type: 'int', min: 0, max: 4294967295, arg: 'uid', live: true,
    description: 'capture only this user id (default: all users; unlike eCapture, 0 means root, not "all")', jsonAliases: ['uid'] },
  { key: 'btf', long: 'btf', short: 'b', type: 'int', default: 0, min: 0, max: 2, arg: 'mode',
    description: 'BTF mode: 0 auto (kernel BTF, else --btf-file), 1 CO-RE (require BTF), 2 non-CO-RE (not shipped; use --btf-file)', jsonAliases: ['btf_mode'] },
  { key: 'btfFile', long: 'btf-file', type: 'string', arg: 'path',
    description: 'external BTF file for kernels without /sys/kernel/btf/vmlinux (e.g. from btfhub)' },
  { key: 'mapsize', long: 'mapsize', type: 'int', default: 1024, min: 1, max: 1048576, arg: 'pages',
    description: 'event buffer size in pages per CPU (ring buffer: pages x CPUs, rounded up to a power of two)', jsonAliases: ['per_cpu_map_size'] },
  { key: 'logaddr', long: 'logaddr', short: 'l', type: 'string', default: '', arg: 'addr',
    description: 'where the tool\'s own logs go: a file path, tcp://host:port, ws:// or wss:// URL (default: stderr)', jsonAliases: ['logger_addr'] },
  { key: 'eventaddr', long: 'eventaddr', type: 'string', default: '', arg: 'addr', live: true,
    description: 'where captured events go: a file path, tcp://host:port, ws:// or wss:// URL (default: stdout)', jsonAliases: ['event_collector_addr'] },
  { key: 'eventroratesize', long: 'eventroratesize', type: 'int', default: 0, min: 0, max: 65535, arg: 'MB',
    description: 'rotate the --eventaddr file after this many MB (0 = never)' },
  { key: 'eventroratetime', long: 'eventroratetime', type: 'int', default: 0, min: 0, max: 65535, arg: 'seconds',
    description: 'rotate the --eventaddr file every this many seconds (0 = never)' },
  { key: 'format', long: 'format', type: 'enum', choices: ['text', 'json', 'protobuf'], default: 'text', live: true,
    description: 'event encoding: text, json (JSON lines) or protobuf (eCaptureQ LogEntry, length-delimited)' },
  { key: 'hex', long: 'hex', type: 'bool', default: false, live: true,
    description: 'print payloads as a hex dump', jsonAliases: ['is_hex'] },
  { key: 'tsize', long: 'tsize', short: 't', type: 'int', default: 0, min: 0, max: 1 << 30, arg: 'bytes', live: true,
    description: 'print at most this many payload bytes per event (0 = all); capture is never truncated', jsonAliases: ['truncate_size'] },
  { key: 'debug', long: 'debug', short: 'd', type: 'bool', default: false,
    description: 'debug logging (attach details, timings, libbpf messages)', jsonAliases: ['debug'] },
  { key: 'listen', long: 'listen', type: 'string', default: '', arg: 'addr',
    description: 'serve the HTTP config API on this address, e.g. 127.0.0.1:28256 (off by default)', jsonAliases: ['listen'] },
  { key: 'apiToken', long: 'api-token', type: 'string', arg: 'token',
    description: 'bearer token the HTTP config API requires (required when --listen is not a loopback address; env ECAPTURE_API_TOKEN)' },
  { key: 'ecaptureq', long: 'ecaptureq', type: 'string', default: '', arg: 'url',
    description: 'serve the eCaptureQ WebSocket stream at this URL, e.g. ws://127.0.0.1:28257/', jsonAliases: ['ecapture_q'] },
  { key: 'raw', long: 'raw', type: 'bool', default: false,
    description: 'print each read/write as it happened, without HTTP/1, HTTP/2 and WebSocket parsing' },
  { key: 'idleTimeout', long: 'idle-timeout', type: 'int', default: 5000, min: 10, max: 3600000, arg: 'ms',
    description: 'flush and forget a connection after this long without data' },
  { key: 'maxConnBytes', long: 'max-conn-bytes', type: 'int', default: 8 << 20, min: 4096, max: 2 ** 31, arg: 'bytes',
    description: 'bytes kept per connection for reordering and message bodies; beyond it the connection is passed through raw (counted)' },
  { key: 'maxTotalBytes', long: 'max-total-bytes', type: 'int', default: 256 << 20, min: 65536, max: 2 ** 40, arg: 'bytes',
    description: 'bytes kept over all connections (counted when hit)' },
  { key: 'maxConns', long: 'max-conns', type: 'int', default: 16384, min: 1, max: 1 << 22, arg: 'n',
    description: 'connections tracked at once; the least recently active is closed beyond it' },
];

/** The capture-mode enum shared by the TLS-family modules. */
export const modelChoices = ['text', 'pcap', 'pcapng', 'key', 'keylog'] as const;
export const modelAliases = { pcapng: 'pcap', key: 'keylog' } as const;

export function findOption(specs: readonly OptionSpec[], key: string): OptionSpec | undefined {
  return specs.find((s) => s.key === key || s.long === key || s.jsonAliases?.includes(key));
}

/**
 * Settings that belong to the outputs and the pipeline, not to a module's hooks: changing them while
 * running never restarts a module.
 */
export const OUTPUT_KEYS: ReadonlySet<string> = new Set([
  'eventaddr', 'format', 'hex', 'tsize', 'eventroratesize', 'eventroratetime', 'logaddr', 'debug', 'listen',
  'ecaptureq', 'apiToken', 'idleTimeout', 'raw', 'maxConnBytes', 'maxTotalBytes', 'maxConns',
]);

/** Settings a module can apply in the kernel without reloading (the process filter). */
export const LIVE_FILTER_KEYS: ReadonlySet<string> = new Set(['pid', 'uid', 'cgroupPath']);
