/**
 * The `ecapture` command line. Subcommands and flags come from the module registry and the option specs
 * (one list each); eCapture's flag names and defaults are kept. Wrong flags print usage and exit 2;
 * runtime errors print one line (+ a hint) and exit 1. main() is exported for in-process tests.
 */
import { Command, CommanderError, Option } from 'commander';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatError } from '../errors.js';
import { globalOptions, type OptionSpec } from '../config/options.js';
import { validateCli, type Config } from '../config/schema.js';
import { allModules, registerAll } from '../modules.js';
import type { ModuleDescriptor } from '../registry.js';
import { VERSION, versionLine } from './version.js';

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIo: CliIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

function optionFor(spec: OptionSpec): Option {
  const flags = `${spec.short ? `-${spec.short}, ` : ''}--${spec.long}${spec.type === 'bool' ? '' : ` <${spec.arg ?? 'value'}>`}`;
  let desc = spec.description;
  if (spec.type === 'enum' && spec.choices) desc += ` (one of: ${spec.choices.join(', ')})`;
  if (spec.default !== undefined && spec.default !== '' && spec.default !== false) desc += ` (default: ${JSON.stringify(spec.default)})`;
  const o = new Option(flags, desc);
  if (spec.hidden) o.hideHelp();
  return o;
}

/** Expand an unambiguous prefix of a subcommand (cobra's prefix matching), e.g. `ecapture op` → openssl. */
function expandPrefix(argv: string[]): string[] {
  const first = argv[0];
  if (!first || first.startsWith('-')) return argv;
  const names = allModules().flatMap((m) => [m.name, ...m.aliases]);
  if (names.includes(first) || first === 'help') return argv;
  const hits = allModules().filter((m) => [m.name, ...m.aliases].some((n) => n.startsWith(first)));
  return hits.length === 1 ? [hits[0]!.name, ...argv.slice(1)] : argv;
}

export interface ParsedCommand {
  descriptor: ModuleDescriptor;
  config: Config;
}

/** Parse argv (without node and script) into a module and a validated config. Throws CommanderError on bad usage. */
export function parseArgs(argv: string[], io: CliIo = defaultIo): ParsedCommand | undefined {
  registerAll();
  let parsed: ParsedCommand | undefined;
  const program = new Command('ecapture')
    .description('Capture TLS plaintext, keys and packets, shell commands and SQL queries with eBPF.\nA TypeScript re-implementation of eCapture; no CA certificate and no change to the programs.')
    .version(versionLine(), '-v, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(run with --help for usage)')
    .allowExcessArguments(false);

  for (const d of allModules()) {
    const specs = [...globalOptions, ...d.options];
    const cmd = program.command(d.name).aliases([...d.aliases]).summary(d.summary).description(d.description);
    cmd.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err }).showHelpAfterError('(run with --help for usage)');
    const attr = new Map<string, string>();
    for (const s of specs) {
      const o = optionFor(s);
      cmd.addOption(o);
      attr.set(s.key, o.attributeName());
    }
    if (d.positional) cmd.argument(`[${d.positional.name}...]`, d.positional.description);
    else cmd.allowExcessArguments(false);
    cmd.addHelpText('after', `\nExamples:\n${d.examples.map((e) => `  ${e}`).join('\n')}\n`);
    cmd.action((...args: unknown[]) => {
      const opts = (args[args.length - 1] as Command).opts<Record<string, unknown>>();
      const raw: Record<string, unknown> = {};
      for (const s of specs) {
        const v = opts[attr.get(s.key)!];
        if (v !== undefined) raw[s.key] = v;
      }
      if (d.positional) {
        const pos = args[0] as string[] | undefined;
        if (pos && pos.length > 0) raw[d.positional.key] = pos.join(' ');
      }
      const r = validateCli(specs, raw);
      if (!r.ok) throw new CommanderError(2, 'ecapture.invalidOption', `error: ${r.message}`);
      parsed = { descriptor: d, config: r.config };
    });
  }
  program.addHelpText('after', '\nRun `ecapture <command> --help` for the flags of a command.\n');
  program.parse(expandPrefix(argv), { from: 'user' });
  return parsed;
}

/** Entry point: returns the exit code (also set on process.exitCode by the bin). */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let cmd: ParsedCommand | undefined;
  try {
    cmd = parseArgs(argv, io);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      if (e.code === 'commander.help') return e.exitCode === 0 ? 0 : 2;
      if (e.code === 'ecapture.invalidOption') io.err(`${e.message}\n(run with --help for usage)\n`);
      return 2;
    }
    throw e;
  }
  if (!cmd) {
    io.err('error: a command is required: one of ' + allModules().map((m) => m.name).join(', ') + '\n(run with --help for usage)\n');
    return 2;
  }
  try {
    const { runCommand } = await import('./run.js');
    return await runCommand(cmd.descriptor, cmd.config, io);
  } catch (e) {
    const { line, hint } = formatError(e);
    io.err(`${line}\n`);
    if (hint) io.err(`hint: ${hint}\n`);
    return 1;
  }
}

export { VERSION };

function isMain(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/** Run the CLI with this process's arguments (the entry point; also called by dist/ecapture.mjs's loader). */
export function runCli(): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${formatError(e).line}\n`);
      process.exitCode = 1;
    },
  );
}

if (isMain()) runCli();
