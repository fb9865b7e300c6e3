/**
 * Generates offsets/openssl.json from eCapture's per-version offset headers (kern/openssl_*_kern.c,
 * kern/boringssl_*_kern.c: lines `#define <STRUCT>_<FIELD> 0x<offset>`, produced upstream by compiling
 * offsetof() against each library release). Only those facts are taken; the version → layout ranges below
 * restate eCapture's version map (internal/probe/openssl/libs.go) as data.
 *
 *   node dist/scripts/gen-openssl-offsets.js --git <ecapture .git dir> [--rev <commit>] > offsets/openssl.json
 *   node dist/scripts/gen-openssl-offsets.js --dir <folder with the *_kern.c files>       > offsets/openssl.json
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** #define name (without the SSL_CONNECTION_/SSL_ prefix variants) → [field, client_random via s3?] */
const DEFINE_TO_FIELD: Record<string, string> = {
  SSL_ST_VERSION: 'ssl_version',
  SSL_CONNECTION_ST_VERSION: 'ssl_version',
  SSL_ST_TYPE: 'ssl_type',
  SSL_ST_SESSION: 'ssl_session',
  SSL_CONNECTION_ST_SESSION: 'ssl_session',
  SSL_ST_S3: 'ssl_s3',
  SSL_CONNECTION_ST_S3: 'ssl_s3',
  SSL_ST_RBIO: 'ssl_rbio',
  SSL_CONNECTION_ST_RBIO: 'ssl_rbio',
  SSL_ST_WBIO: 'ssl_wbio',
  SSL_CONNECTION_ST_WBIO: 'ssl_wbio',
  SSL_ST_SERVER: 'ssl_server',
  SSL_CONNECTION_ST_SERVER: 'ssl_server',
  SSL3_STATE_ST_CLIENT_RANDOM: 'client_random',
  SSL_ST_S3_CLIENT_RANDOM: 'client_random',
  SSL_CONNECTION_ST_S3_CLIENT_RANDOM: 'client_random',
  BSSL__SSL3_STATE_CLIENT_RANDOM: 'client_random',
  SSL_SESSION_ST_MASTER_KEY: 'session_master_key',
  SSL_SESSION_ST_SECRET: 'session_master_key',
  SSL_SESSION_ST_SECRET_LENGTH: 'session_master_key_length',
  SSL_SESSION_ST_CIPHER: 'session_cipher',
  SSL_SESSION_ST_CIPHER_ID: 'session_cipher_id',
  SSL_SESSION_ST_SSL_VERSION: 'session_ssl_version',
  SSL_CIPHER_ST_ID: 'cipher_id',
  BIO_ST_NUM: 'bio_num',
  BIO_ST_METHOD: 'bio_method',
  BIO_METHOD_ST_TYPE: 'bio_method_type',
  QUIC_CONN_ST_TLS: 'quic_conn_tls',
  BSSL__SSL3_STATE_HS: 's3_hs',
  BSSL__SSL3_STATE_VERSION: 's3_version',
  BSSL__SSL3_STATE_ESTABLISHED_SESSION: 's3_established_session',
  BSSL__SSL3_STATE_EXPORTER_SECRET: 's3_exporter_secret',
  BSSL__SSL3_STATE_CLIENT_TRAFFIC_SECRET_0: 's3_client_traffic_secret_0',
  BSSL__SSL3_STATE_CLIENT_TRAFFIC_SECRET_0_LEN: 's3_client_traffic_secret_0_len',
  BSSL__SSL3_STATE_SERVER_TRAFFIC_SECRET_0: 's3_server_traffic_secret_0',
  BSSL__SSL3_STATE_SERVER_TRAFFIC_SECRET_0_LEN: 's3_server_traffic_secret_0_len',
  BSSL__SSL_HANDSHAKE_STATE: 'hs_state',
  BSSL__SSL_HANDSHAKE_TLS13_STATE: 'hs_tls13_state',
  BSSL__SSL_HANDSHAKE_MAX_VERSION: 'hs_max_version',
  BSSL__SSL_HANDSHAKE_NEW_SESSION: 'hs_new_session',
  BSSL__SSL_HANDSHAKE_EARLY_SESSION: 'hs_early_session',
  BSSL__SSL_HANDSHAKE_HINTS: 'hs_hints',
  BSSL__SSL_HANDSHAKE_CLIENT_VERSION: 'hs_client_version',
};
for (const f of ['EARLY_SECRET', 'HANDSHAKE_SECRET', 'HANDSHAKE_TRAFFIC_HASH', 'CLIENT_APP_TRAFFIC_SECRET', 'SERVER_APP_TRAFFIC_SECRET', 'EXPORTER_MASTER_SECRET']) {
  DEFINE_TO_FIELD[`SSL_ST_${f}`] = f.toLowerCase();
  DEFINE_TO_FIELD[`SSL_CONNECTION_ST_${f}`] = f.toLowerCase();
}

/** eCapture's version map (libs.go), as ranges; later rows override earlier ones. */
const VERSIONS: { from: string; to: string; layout: string }[] = [
  { from: '1.0.2a', to: '1.0.2u', layout: 'openssl_1_0_2a' },
  { from: '1.1.0a', to: '1.1.0l', layout: 'openssl_1_1_0a' },
  { from: '1.1.1a', to: '1.1.1a', layout: 'openssl_1_1_1a' },
  { from: '1.1.1b', to: '1.1.1c', layout: 'openssl_1_1_1b' },
  { from: '1.1.1d', to: '1.1.1i', layout: 'openssl_1_1_1d' },
  { from: '1.1.1j', to: '1.1.1w', layout: 'openssl_1_1_1j' },
  { from: '3.0.0', to: '3.0.21', layout: 'openssl_3_0_0' },
  { from: '3.0.12', to: '3.0.12', layout: 'openssl_3_0_12' },
  { from: '3.1.0', to: '3.1.8', layout: 'openssl_3_1_0' },
  { from: '3.2.0', to: '3.2.2', layout: 'openssl_3_2_0' },
  { from: '3.2.3', to: '3.2.3', layout: 'openssl_3_2_3' },
  { from: '3.2.4', to: '3.2.6', layout: 'openssl_3_2_4' },
  { from: '3.3.0', to: '3.3.1', layout: 'openssl_3_3_0' },
  { from: '3.3.2', to: '3.3.2', layout: 'openssl_3_3_2' },
  { from: '3.3.3', to: '3.3.7', layout: 'openssl_3_3_3' },
  { from: '3.4.0', to: '3.4.0', layout: 'openssl_3_4_0' },
  { from: '3.4.1', to: '3.4.6', layout: 'openssl_3_4_1' },
  { from: '3.5.0', to: '3.5.7', layout: 'openssl_3_5_0' },
  { from: '3.6.0', to: '3.6.2', layout: 'openssl_3_5_0' },
  { from: '4.0.0', to: '4.0.1', layout: 'openssl_3_5_0' },
];

/** --ssl_version keys that are not plain versions (libs.go), and the family defaults. */
const ALIASES: Record<string, string> = {
  'boringssl 1.1.1': 'boringssl_a_13',
  android_default: 'boringssl_a_13',
  'boringssl na': 'boringssl_na',
  linux_default_1_0_2: 'openssl_1_0_2a',
  linux_default_1_1_0: 'openssl_1_1_0a',
  linux_default_1_1_1: 'openssl_1_1_1j',
  linux_default_3_0: 'openssl_3_0_0',
  linux_default_3_2: 'openssl_3_2_0',
};

const SSL_MAX_MD_SIZE = 48;

function layoutFrom(name: string, text: string): Record<string, unknown> {
  const fields: Record<string, number> = {};
  for (const m of text.matchAll(/^#define\s+([A-Z0-9_]+)\s+0x([0-9a-fA-F]+)\s*$/gm)) {
    const field = DEFINE_TO_FIELD[m[1]!];
    if (!field) throw new Error(`${name}: unknown define ${m[1]} (extend DEFINE_TO_FIELD)`);
    fields[field] = parseInt(m[2]!, 16);
  }
  const has = (d: string): boolean => new RegExp(`^#define\\s+${d}\\s`, 'm').test(text);
  const boringssl = name.startsWith('boringssl');
  const inplace = has('SSL_SESSION_ST_SSL_VERSION');
  if (boringssl) {
    if (fields.session_master_key_length === 0xff) delete fields.session_master_key_length; // fixed 48 (a16)
    // SSL_HANDSHAKE secrets follow max_version (boringssl_const.h): size_t hash_len_ + u8[48] each (≤ a15), or
    // InplaceVector<u8,48> each (a16: 48 bytes + u8 size, no padding).
    const mv = fields.hs_max_version!;
    const secret = inplace ? mv + 2 : Math.ceil((mv + 2) / 8) * 8 + 8;
    const step = inplace ? SSL_MAX_MD_SIZE + 1 : SSL_MAX_MD_SIZE;
    fields.hs_hash_len = inplace ? secret + SSL_MAX_MD_SIZE : secret - 8;
    fields.hs_secret = secret;
    ['hs_early_traffic_secret', 'hs_client_handshake_secret', 'hs_server_handshake_secret', 'hs_client_traffic_secret_0', 'hs_server_traffic_secret_0'].forEach(
      (f, i) => (fields[f] = secret + step * (i + 1)),
    );
  }
  const header = /OPENSSL_VERSION_TEXT:\s*(.*?)\s*\*\//.exec(text)?.[1];
  const hex: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields).sort(([a], [b]) => a.localeCompare(b))) hex[k] = `0x${v.toString(16)}`;
  return {
    family: boringssl ? 'boringssl' : 'openssl',
    headerVersion: header,
    flags: {
      boringssl,
      clientRandomViaS3: boringssl || has('SSL3_STATE_ST_CLIENT_RANDOM'),
      tls13: boringssl || fields.early_secret !== undefined,
      sslConnection: has('SSL_ST_TYPE'),
      hsInplaceSecrets: boringssl && inplace,
    },
    fields: hex,
  };
}

function main(argv: string[]): void {
  const arg = (k: string): string | undefined => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const gitDir = arg('--git');
  const rev = arg('--rev') ?? 'HEAD';
  const dir = arg('--dir');
  const files = new Map<string, string>();
  const pattern = /^(openssl_\d+_\d+_\d+[a-z]?|boringssl_(?:a_\d+|na))_kern\.c$/;
  if (gitDir) {
    const list = execFileSync('git', ['--git-dir', gitDir, 'ls-tree', '--name-only', rev, 'kern/'], { encoding: 'utf8' });
    for (const p of list.split('\n')) {
      const base = p.slice('kern/'.length);
      if (pattern.test(base)) files.set(base, execFileSync('git', ['--git-dir', gitDir, 'show', `${rev}:${p}`], { encoding: 'utf8' }));
    }
  } else if (dir) {
    for (const base of readdirSync(dir)) if (pattern.test(base)) files.set(base, readFileSync(join(dir, base), 'utf8'));
  } else {
    throw new Error('usage: gen-openssl-offsets (--git <dir> [--rev <commit>] | --dir <dir>)');
  }
  const layouts: Record<string, unknown> = {};
  for (const base of [...files.keys()].sort()) layouts[base.replace(/_kern\.c$/, '')] = layoutFrom(base, files.get(base)!);
  for (const v of VERSIONS) if (!layouts[v.layout]) throw new Error(`version range ${v.from}..${v.to}: no layout ${v.layout}`);
  let source = `github.com/gojue/ecapture kern/*_kern.c`;
  if (gitDir) source += ` @ ${execFileSync('git', ['--git-dir', gitDir, 'rev-parse', '--short', rev], { encoding: 'utf8' }).trim()}`;
  const out = {
    comment: 'Generated by scripts/gen-openssl-offsets.ts; see offsets/README.md. Offsets in hex; absent = the library has no such member.',
    source,
    layouts,
    versions: VERSIONS,
    aliases: ALIASES,
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

main(process.argv.slice(2));
