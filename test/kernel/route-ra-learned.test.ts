// Real kernel: a route learned from a Router Advertisement (proto ra) at a declared route's key.
// Deleting it, as a foreign route's refusal says, does not last: the next advertisement adds it
// back, beside Voltron's (IPv6 keeps both at one metric, and the plan sees nothing to do). So the
// refusal says what lasts: the device's `accept_ra_defrtr` sysctl, declared (it stops new ones
// and keeps the one learned), or a lower metric. The advertisements are real (python3, raw ICMPv6).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Sandbox } from '../support/sandbox';

const BASE = `
namespaces: [ { name: h__SYSCTL__ }, { name: r } ]
links:
  - { name: u0, namespace: h, type: veth, peer: { name: u1, namespace: r } }
addresses:
  - { address: "2001:db8:1::2/64", dev: u0, namespace: h }
  - { address: "2001:db8:1::1/64", dev: u1, namespace: r }
`;
const ROUTE = `routes:\n  - { to: "::/0", via: "2001:db8:1::1", namespace: h }\n`;
const SYSCTL = ', sysctls: { net.ipv6.conf.u0.accept_ra_defrtr: 0 }';

// One Router Advertisement (router lifetime 1800 s) to all nodes on a device; the kernel fills the checksum.
const RA = `
import socket, struct, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.sendto(struct.pack('!BBHBBHII', 134, 0, 0, 64, 0, 1800, 0, 0), ('ff02::1', 0, 0, socket.if_nametoindex(sys.argv[1])))
`;
const python = spawnSync('python3', ['-c', 'import socket'], { encoding: 'utf8' }).status === 0;

describe('a route learned from a Router Advertisement at a declared route\'s key (real kernel)', { skip: python ? false : 'no python3 to send Router Advertisements' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'voltron-ra-'));
  const write = (sysctl: boolean, route: boolean) => fs.writeFileSync(path.join(dir, 'net.yaml'), BASE.replace('__SYSCTL__', sysctl ? SYSCTL : '') + (route ? ROUTE : ''));
  write(false, false);
  const sb = new Sandbox('ral', dir);
  after(() => {
    sb.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const learned = () => sb.ipj('h', ['-6', 'route', 'show', 'default']).filter((r: { protocol?: string }) => r.protocol === 'ra');
  /** Sends advertisements from r until h has learned a default route (r's link-local address may still be tentative), or `tries` run out. */
  const advertise = (tries = 10): number => {
    for (let i = 0; i < tries; i++) {
      assert.equal(sb.exec('r', ['python3', '-c', RA, 'u1']).code, 0);
      spawnSync('sleep', ['0.3']);
      if (learned().length > 0) break;
    }
    return learned().length;
  };

  it('h learns a default route from r\'s advertisement', () => {
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(advertise(), 1);
  });

  it('declaring the default route is refused, saying what lasts: the sysctl (where to declare it) or a lower metric', () => {
    write(false, true);
    for (const cmd of [['plan'], ['apply', '--auto-approve']]) {
      const r = sb.run(cmd);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /route h ::\/0: a route learned from a Router Advertisement \(.*via fe80::\S+ dev u0 proto ra\) holds its destination, table and metric/);
      assert.match(r.stderr, /the next advertisement on 'u0' adds it back, beside Voltron's/);
      assert.match(r.stderr, /a metric below 1024/);
      assert.match(r.stderr, /declare `net\.ipv6\.conf\.u0\.accept_ra_defrtr: 0` in the `sysctls` of namespace h/);
      assert.match(r.stderr, /route del ::\/0 table 254 metric 1024 proto ra/);
    }
  });

  it('deleted by hand, the next advertisement adds it back', () => {
    sb.ip('h', ['-6', 'route', 'del', '::/0', 'proto', 'ra']);
    assert.equal(learned().length, 0);
    assert.equal(advertise(), 1);
  });

  it('as the refusal says: the sysctl declared, the learned route deleted, the route applied; the next advertisement adds nothing', () => {
    write(true, false);
    const s = sb.run(['apply', '--auto-approve']);
    assert.equal(s.code, 0, s.stdout + s.stderr);
    assert.equal(learned().length, 1, 'the sysctl keeps the route learned');
    sb.ip('h', ['-6', 'route', 'del', '::/0', 'proto', 'ra']);
    write(true, true);
    const a = sb.run(['apply', '--auto-approve']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.equal(advertise(3), 0);
    assert.match(sb.ip('h', ['-6', 'route', 'show', 'default']), /^default via 2001:db8:1::1 dev u0 proto 194 metric 1024/);
    const d = sb.run(['destroy', '--auto-approve']);
    assert.equal(d.code, 0, d.stdout + d.stderr);
  });
});
