/**
 * Generates src/gen/events.ts from the BTF of the compiled BPF objects (bpf2go's idea, for TypeScript):
 * every struct and enum declared in bpf/include/events.h gets a size, a field table and a decoder, so no
 * offset is ever typed by hand.
 *
 *   node dist/scripts/gen-events.js            write src/gen/events.ts
 *   node dist/scripts/gen-events.js --check    exit 1 if src/gen/events.ts is not what the objects say
 *
 * Integers: __u8/__u16/__u32/__s32 become numbers; __u64 becomes a number too (exact below 2^53, which
 * covers pointers, sequence numbers and ids; timestamps lose at most a few ns after ~104 days of uptime).
 * char[N] becomes a string cut at the first NUL; other arrays become Buffer views (no copy) clamped to the
 * sample; a trailing array is variable-length and clamped to the sample length.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  encoding?: string;
  members?: { name: string; type_id: number; bits_offset: number }[];
  values?: { name: string; val: number }[];
}

type FieldKind = 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 's64' | 'chars' | 'bytes' | 'struct' | 'ints';
interface Field {
  name: string;
  offset: number;
  size: number;
  kind: FieldKind;
  struct?: string;
  elems?: number;
  /** for 'ints': the element kind */
  elem?: FieldKind;
  elemSize?: number;
}
interface StructDef {
  name: string;
  size: number;
  fields: Field[];
}

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const header = join(root, 'bpf', 'include', 'events.h');
const outFile = join(root, 'src', 'gen', 'events.ts');

function objects(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) {
      if (n !== 'test') out.push(...objects(p));
    } else if (n.endsWith('.bpf.o')) out.push(p);
  }
  return out.sort();
}

function declaredNames(src: string): { structs: string[]; enums: string[] } {
  const structs = [...src.matchAll(/^struct\s+(\w+)\s*\{/gm)].map((m) => m[1]!);
  const enums = [...src.matchAll(/^enum\s+(\w+)\s*\{/gm)].map((m) => m[1]!);
  return { structs, enums };
}

function loadBtf(obj: string): Map<number, BtfType> {
  const json = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', obj, 'format', 'raw'], {
    maxBuffer: 256 << 20,
  }).toString();
  const types = (JSON.parse(json) as { types: BtfType[] }).types;
  return new Map(types.map((t) => [t.id, t]));
}

function resolve(btf: Map<number, BtfType>, id: number): BtfType {
  let t = btf.get(id)!;
  while (t && (t.kind === 'TYPEDEF' || t.kind === 'VOLATILE' || t.kind === 'CONST')) t = btf.get(t.type_id!)!;
  return t;
}

function sizeOf(btf: Map<number, BtfType>, t: BtfType): number {
  if (t.kind === 'ARRAY') return t.nr_elems! * sizeOf(btf, resolve(btf, t.type_id!));
  if (t.kind === 'ENUM') return t.size ?? 4;
  return t.size ?? 8;
}

function fieldOf(btf: Map<number, BtfType>, name: string, typeId: number, bitsOffset: number): Field {
  const t = resolve(btf, typeId);
  const offset = bitsOffset / 8;
  if (t.kind === 'INT' || t.kind === 'ENUM') {
    const size = sizeOf(btf, t);
    const signed = t.kind === 'INT' && t.encoding === 'SIGNED';
    const kind: FieldKind =
      size === 1 ? 'u8' : size === 2 ? 'u16' : size === 4 ? (signed ? 's32' : 'u32') : signed ? 's64' : 'u64';
    return { name, offset, size, kind };
  }
  if (t.kind === 'ARRAY') {
    const el = resolve(btf, t.type_id!);
    const size = sizeOf(btf, t);
    const isChar = el.kind === 'INT' && el.name === 'char';
    const elSize = sizeOf(btf, el);
    if ((el.kind === 'INT' || el.kind === 'ENUM') && elSize > 1 && t.nr_elems! <= 16) {
      // small arrays of wider integers (e.g. __u64 seq[2]) become number arrays
      const one = fieldOf(btf, 'x', t.type_id!, 0);
      return { name, offset, size, kind: 'ints', elems: t.nr_elems!, elem: one.kind, elemSize: elSize };
    }
    return { name, offset, size, kind: isChar ? 'chars' : 'bytes', elems: t.nr_elems! };
  }
  if (t.kind === 'STRUCT') return { name, offset, size: t.size!, kind: 'struct', struct: t.name };
  throw new Error(`unsupported BTF kind ${t.kind} for member ${name}`);
}

function collect(): { structs: Map<string, StructDef>; enums: Map<string, { name: string; val: number }[]>; objs: string[] } {
  const { structs: sNames, enums: eNames } = declaredNames(readFileSync(header, 'utf8'));
  const structs = new Map<string, StructDef>();
  const enums = new Map<string, { name: string; val: number }[]>();
  const objs = objects(join(root, 'build', 'bpf'));
  for (const obj of objs) {
    const btf = loadBtf(obj);
    for (const t of btf.values()) {
      if (t.kind === 'STRUCT' && sNames.includes(t.name)) {
        const def: StructDef = {
          name: t.name,
          size: t.size!,
          fields: t.members!.filter((m) => !m.name.startsWith('_pad')).map((m) => fieldOf(btf, m.name, m.type_id, m.bits_offset)),
        };
        const prev = structs.get(t.name);
        if (prev && JSON.stringify(prev) !== JSON.stringify(def)) {
          throw new Error(`struct ${t.name} has different layouts in different objects (${relative(root, obj)})`);
        }
        structs.set(t.name, def);
      } else if (t.kind === 'ENUM' && eNames.includes(t.name)) {
        enums.set(t.name, t.values!);
      }
    }
  }
  for (const n of sNames) if (!structs.has(n)) throw new Error(`struct ${n} from events.h is in no object's BTF: add a BTF anchor`);
  for (const n of eNames) if (!enums.has(n)) throw new Error(`enum ${n} from events.h is in no object's BTF: add a BTF anchor`);
  return { structs, enums, objs };
}

const pascal = (s: string): string => s.replace(/(^|_)(\w)/g, (_, __, c: string) => c.toUpperCase());
const camel = (s: string): string => s.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

function tsType(f: Field): string {
  switch (f.kind) {
    case 'chars':
      return 'string';
    case 'bytes':
      return 'Buffer';
    case 'struct':
      return pascal(f.struct!);
    case 'ints':
      return 'number[]';
    default:
      return 'number';
  }
}

function readExpr(f: Field, base: string, isLast: boolean): string {
  const o = `${base} + ${f.offset}`;
  switch (f.kind) {
    case 'u8':
      return `b[${o}]!`;
    case 'u16':
      return `b.readUInt16LE(${o})`;
    case 'u32':
      return `b.readUInt32LE(${o})`;
    case 's32':
      return `b.readInt32LE(${o})`;
    case 'u64':
      return `b.readUInt32LE(${o}) + b.readUInt32LE(${o} + 4) * 4294967296`;
    case 's64':
      return `b.readUInt32LE(${o}) + b.readInt32LE(${o} + 4) * 4294967296`;
    case 'chars':
      return `cstr(b, ${o}, ${isLast ? 'b.length' : `${o} + ${f.size}`})`;
    case 'bytes':
      return isLast ? `b.subarray(${o}, Math.min(b.length, ${o} + ${f.size}))` : `b.subarray(${o}, ${o} + ${f.size})`;
    case 'struct':
      return `decode${pascal(f.struct!)}At(b, ${o})`;
    case 'ints': {
      const items: string[] = [];
      for (let i = 0; i < f.elems!; i++) {
        items.push(readExpr({ name: f.name, offset: f.offset + i * f.elemSize!, size: f.elemSize!, kind: f.elem! }, base, false));
      }
      return `[${items.join(', ')}]`;
    }
  }
}

function render(structs: Map<string, StructDef>, enums: Map<string, { name: string; val: number }[]>, objs: string[]): string {
  const hsum = createHash('sha256').update(readFileSync(header)).digest('hex');
  const L: string[] = [];
  L.push('// Code generated by scripts/gen-events.ts from the BTF of the BPF objects; DO NOT EDIT.');
  L.push(`// Source contract: bpf/include/events.h (sha256 ${hsum})`);
  L.push(`// Objects: ${objs.map((o) => relative(root, o)).join(', ')}`);
  L.push('/* eslint-disable */');
  L.push('');
  L.push('function cstr(b: Buffer, start: number, end: number): string {');
  L.push('  const z = b.indexOf(0, start);');
  L.push("  return b.toString('utf8', start, z >= 0 && z < end ? z : end);");
  L.push('}');
  L.push('');
  for (const [name, values] of [...enums].sort(([a], [b]) => a.localeCompare(b))) {
    L.push(`export const ${pascal(name)} = {`);
    for (const v of values) L.push(`  ${v.name}: ${v.val},`);
    L.push('} as const;');
    L.push(`export type ${pascal(name)} = (typeof ${pascal(name)})[keyof typeof ${pascal(name)}];`);
    L.push('');
  }
  L.push('export interface FieldInfo { readonly name: string; readonly offset: number; readonly size: number; readonly kind: string }');
  // structs used as members of others are fixed-size; only top-level events may end in a variable-length array
  const nested = new Set<string>();
  for (const s of structs.values()) for (const f of s.fields) if (f.kind === 'struct') nested.add(f.struct!);
  L.push('');
  for (const s of [...structs.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const T = pascal(s.name);
    const last = s.fields[s.fields.length - 1]!;
    const varLen = !nested.has(s.name) && (last.kind === 'bytes' || last.kind === 'chars');
    L.push(`/** struct ${s.name} (${s.size} bytes) */`);
    L.push(`export interface ${T} {`);
    for (const f of s.fields) L.push(`  ${camel(f.name)}: ${tsType(f)};`);
    L.push('}');
    L.push(`export const ${T}Layout = {`);
    L.push(`  SIZE: ${s.size},`);
    L.push(`  /** bytes a sample must have to be decoded${varLen ? ' (the trailing array may be shorter)' : ''} */`);
    L.push(`  MIN_SIZE: ${varLen ? last.offset : s.size},`);
    if (varLen) L.push(`  ${last.name.toUpperCase()}_OFFSET: ${last.offset},`);
    L.push('  fields: [');
    for (const f of s.fields) L.push(`    { name: '${f.name}', offset: ${f.offset}, size: ${f.size}, kind: '${f.kind}' },`);
    L.push('  ] as readonly FieldInfo[],');
    L.push('} as const;');
    L.push(`export function decode${T}At(b: Buffer, o: number): ${T} {`);
    L.push('  return {');
    for (const f of s.fields) L.push(`    ${camel(f.name)}: ${readExpr(f, 'o', f === last && varLen)},`);
    L.push('  };');
    L.push('}');
    L.push(`/** Decode a sample; returns undefined when it is shorter than ${T}Layout.MIN_SIZE (count it, never throw). */`);
    L.push(`export function decode${T}(b: Buffer): ${T} | undefined {`);
    L.push(`  if (b.length < ${varLen ? last.offset : s.size}) return undefined;`);
    L.push(`  return decode${T}At(b, 0);`);
    L.push('}');
    L.push('');
  }
  return L.join('\n');
}

function main(): void {
  const { structs, enums, objs } = collect();
  const text = render(structs, enums, objs);
  if (process.argv.includes('--check')) {
    const cur = readFileSync(outFile, 'utf8');
    if (cur !== text) {
      process.stderr.write('src/gen/events.ts is stale: run `npm run gen` after changing bpf/include/events.h\n');
      process.exitCode = 1;
    }
    return;
  }
  writeFileSync(outFile, text);
  process.stdout.write(`wrote ${relative(root, outFile)} (${structs.size} structs, ${enums.size} enums)\n`);
}

export { collect, render };

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
