/**
 * `npm run bench`: every benchmark of the project, printed as a table (and as JSON with --json).
 *   npm run bench                 all
 *   npm run bench -- pipeline e2e only those groups (pipeline, parsers, outputs, pcap, e2e)
 * Run it on an otherwise idle machine: the figures in README "Performance" come from it.
 */
import type { BenchResult } from './types.js';

type Group = { name: string; load: () => Promise<() => Promise<BenchResult[]>> };

const groups: Group[] = [
  { name: 'pipeline', load: async () => (await import('./pipeline.js')).benchPipeline },
  { name: 'parsers', load: async () => (await import('./parsers.js' as string) as { benchParsers: () => Promise<BenchResult[]> }).benchParsers },
  { name: 'outputs', load: async () => (await import('./outputs.js' as string) as { benchOutputs: () => Promise<BenchResult[]> }).benchOutputs },
  { name: 'pcap', load: async () => (await import('./pcap.js' as string) as { benchPcap: () => Promise<BenchResult[]> }).benchPcap },
  { name: 'e2e', load: async () => (await import('./e2e.js')).benchEndToEnd },
];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const only = args.filter((a) => !a.startsWith('--'));
  const all: (BenchResult & { group: string })[] = [];
  for (const g of groups) {
    if (only.length && !only.includes(g.name)) continue;
    let fn: () => Promise<BenchResult[]>;
    try {
      fn = await g.load();
    } catch {
      continue; // group not present in this build
    }
    process.stderr.write(`running ${g.name} ...\n`);
    try {
      for (const r of await fn()) all.push({ ...r, group: g.name });
    } catch (e) {
      all.push({ group: g.name, name: `failed: ${(e as Error).message}`, value: NaN, unit: '' });
    }
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
    return;
  }
  const w = Math.max(...all.map((r) => r.name.length), 10);
  for (const r of all) {
    const v = Number.isFinite(r.value) ? r.value.toLocaleString('en-US') : '-';
    process.stdout.write(`${r.group.padEnd(9)} ${r.name.padEnd(w)}  ${v.padStart(12)} ${r.unit.padEnd(9)} ${r.target ? `(target ${r.target})` : ''}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
