#!/usr/bin/env bash
# Installs what is missing and builds what is stale; quick (well under a second) when all is in place.
#   scripts/setup.sh              runtime needs: toolchain, libbpf, libpcap; builds BPF objects, addon, TypeScript
#   scripts/setup.sh --test       also the programs the end-to-end tests drive (nginx, tshark, go, mariadb, ...)
#   scripts/setup.sh --bench      also wrk and nginx for the benchmark
#   scripts/setup.sh --build-only build only, install nothing
# Apt packages are installed only when running as root; otherwise it says what to install and stops.
set -euo pipefail
case "$0" in */*) cd "${0%/*}/.." ;; *) cd .. ;; esac # no $(dirname): this is the fast path of every start

mode=run
case "${1:-}" in
  --test) mode=test ;;
  --bench) mode=bench ;;
  --build-only) mode=build ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--test|--bench|--build-only]" >&2; exit 2 ;;
esac

# Fast path (~10 ms instead of ~400): this mode already completed, and since then no package changed
# (dpkg's status file), no source or lock file changed, the main artifacts exist and the kernel is the same.
ok_stamp="build/.setup-ok-$mode"
# the kernel: its release and the start of its notes (the GNU build id), read without forking a process
kernel_rel=$(</proc/sys/kernel/osrelease)
IFS= read -r -N 48 kernel_notes </sys/kernel/notes 2>/dev/null || true
printf -v kernel_id '%s %q' "$kernel_rel" "${kernel_notes:-}"
if [ -f "$ok_stamp" ] && [ "$(<"$ok_stamp")" = "$kernel_id" ] && [ "$ok_stamp" -nt /var/lib/dpkg/status ] &&
   [ -f dist/.build-stamp ] && [ -f dist/ecapture.mjs ] && [ -f dist/ecapture.cjs ] && [ -f native/build/Release/ecapture_native.node ] && [ -f build/bpf/tls/openssl.bpf.o ] &&
   [ -z "$(find src test scripts bench bpf native/src native/binding.gyp native/index.d.ts Makefile tsconfig.json \
          package.json package-lock.json -newer "$ok_stamp" -print -quit 2>/dev/null)" ]; then
  exit 0
fi

BUILD_PKGS="clang llvm libbpf-dev bpftool libpcap-dev libelf-dev zlib1g-dev make g++ pkg-config iproute2"
TEST_PKGS="openssl curl python3 nginx tshark tcpdump wrk nghttp2-client gnutls-bin wget libnss3-tools golang-go
  mariadb-server mariadb-client postgresql zsh android-libboringssl android-boringssl tmux libnss3-dev libnspr4-dev"
BENCH_PKGS="nginx wrk openssl curl bpftrace"

pkgs="$BUILD_PKGS"
[ "$mode" = test ] && pkgs="$pkgs $TEST_PKGS"
[ "$mode" = bench ] && pkgs="$pkgs $BENCH_PKGS"

if [ "$mode" != build ]; then
  # one dpkg-query for all: prints the names that are not fully installed
  missing=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $pkgs 2>/dev/null | awk '$2 != "ii" {print $1}' || true)
  for p in $pkgs; do dpkg-query -W -f='${Package}\n' "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  missing=$(echo $missing | tr ' ' '\n' | sort -u | tr '\n' ' ')
  if [ -n "${missing// /}" ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "ecapture-ts: missing Debian packages: $missing" >&2
      echo "  install them as root: apt-get install -y $missing" >&2
      exit 1
    fi
    echo "ecapture-ts: installing Debian packages: $missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    # refresh the package lists only when an install fails without it
    apt-get install -y -q --no-install-recommends $missing >/tmp/ecapture-apt.log 2>&1 || {
      apt-get update -q >>/tmp/ecapture-apt.log 2>&1
      apt-get install -y -q --no-install-recommends $missing >>/tmp/ecapture-apt.log 2>&1 || {
        echo "ecapture-ts: apt-get install failed, see /tmp/ecapture-apt.log" >&2; tail -5 /tmp/ecapture-apt.log >&2; exit 1; }
    }
  fi
fi

# npm dependencies: install when node_modules is missing or older than the lock file
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ecapture-ts: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# kernel objects and the addon (make is incremental)
make -s all >&2

# TypeScript: rebuild when any source is newer than the last build
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find src test scripts bench native/index.d.ts tsconfig.json package.json -newer "$stamp" \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]; then
  echo "ecapture-ts: compiling TypeScript" >&2
  node_modules/.bin/tsc -p tsconfig.json || { echo "ecapture-ts: TypeScript build failed" >&2; exit 1; }
  # config validators compiled ahead of time (saves ~150 ms of CPU at every start)
  node dist/scripts/gen-validators.js >/dev/null || { echo "ecapture-ts: generating validators failed" >&2; exit 1; }
  # the CLI as one file for bin/ecapture (esbuild): resolving and loading ~110 ES modules one by one cost
  # ~70 ms of every start. CommonJS, so that dist/ecapture.mjs (scripts/cli-loader.mjs) can start it with
  # V8's code cache; import.meta.url becomes the bundle's own URL.
  rm -f dist/ecapture.cjs.*.v8cache
  node_modules/.bin/esbuild dist/src/cli/main.js --bundle --platform=node --format=cjs --target=node20 \
    --outfile=dist/ecapture.cjs --log-level=warning --define:import.meta.url=__ecap_import_meta_url \
    "--banner:js=var __ecap_import_meta_url = require('node:url').pathToFileURL(__filename).href;" &&
    node -e "const fs = require('fs'), f = 'dist/ecapture.cjs'; // non-ASCII is left only in comments: escape it, so the loader's latin1 read is exact
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(/[^\\x00-\\x7f]/g, (c) => '\\\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')))" &&
    cp scripts/cli-loader.mjs dist/ecapture.mjs ||
    { echo "ecapture-ts: bundling the CLI failed" >&2; exit 1; }
  touch "$stamp"
fi

# minimal kernel BTF per BPF object for this kernel (src/bpf/btf-cache.ts: saves ~50 ms per object at every
# start); regenerated when an object or the kernel changes, and optional: without it objects load as before
btfstamp=build/btf-cache/.stamp
if [ -r /sys/kernel/btf/vmlinux ] && command -v bpftool >/dev/null 2>&1 &&
   { [ ! -f "$btfstamp" ] || [ "$(<"$btfstamp")" != "$kernel_id" ] || [ -n "$(find build/bpf -name '*.bpf.o' -newer "$btfstamp" -print -quit)" ]; }; then
  node dist/scripts/gen-min-btf.js >&2 && echo "$kernel_id" > "$btfstamp" || true
fi

mkdir -p build && echo "$kernel_id" > "$ok_stamp"
