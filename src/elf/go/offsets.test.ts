import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { goFixture, goSkipReason } from '../../../test/fixtures/go/build.js';
import { GO_TLS_STRUCT_OFFSETS, GO_TLS_STRUCT_OFFSETS_RANGE } from './offsets.js';

test('Go struct offsets used by the BPF side equal what the Go toolchain lays out', { skip: goSkipReason() }, async (t) => {
  const bin = await goFixture('goinfo', 'normal');
  const r = spawnSync(bin, [], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as Record<string, number | string>;
  t.diagnostic(`${got['goVersion']}/${got['goarch']}: ${r.stdout.replace(/\s+/g, ' ')}`);
  assert.equal(got['ptrSize'], 8);
  const o = GO_TLS_STRUCT_OFFSETS;
  assert.equal(got['tlsConn.conn'], o.tlsConnConn);
  assert.equal(got['iface.data'], o.ifaceData);
  assert.equal(got['tcpConn.conn.fd'], o.tcpConnFd);
  assert.equal(got['netFD.pfd.Sysfd'], o.netFdSysfd);
  assert.equal(got['netFD.laddr'], o.netFdLaddr);
  assert.equal(got['netFD.raddr'], o.netFdRaddr);
  assert.equal(got['tcpAddr.IP'], o.tcpAddrIp);
  assert.equal(got['tcpAddr.Port'], o.tcpAddrPort);
  assert.equal(got['sliceHeader.len'], o.sliceLen);
  const minor = Number(/^go1\.(\d+)/.exec(String(got['goVersion']))![1]);
  assert.ok(minor >= GO_TLS_STRUCT_OFFSETS_RANGE.fromMinor && minor <= GO_TLS_STRUCT_OFFSETS_RANGE.toMinor);
});
