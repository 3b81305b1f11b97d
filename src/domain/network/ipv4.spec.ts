import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cidrsOverlap, formatIpv4, parseCidr, parseIpv4, vmAddressRange } from './ipv4.js';
import { macFor } from './mac.js';

const cidr = (s: string) => {
  const p = parseCidr(s);
  if (!p.ok) throw new Error(p.problem);
  return p.value;
};

describe('ipv4', () => {
  test('parses and formats dotted quads; leading zeros and out-of-range octets are refused', () => {
    assert.equal(parseIpv4('10.0.0.1'), 167772161);
    assert.equal(formatIpv4(parseIpv4('255.255.255.254')!), '255.255.255.254');
    for (const bad of ['10.0.0', '10.0.0.256', '010.0.0.1', '10.0.0.-1', 'a.b.c.d', '10..0.1'])
      assert.equal(parseIpv4(bad), undefined, bad);
  });

  test('a CIDR needs /16../29, the network address, and no reserved range', () => {
    assert.equal(cidr('10.20.0.0/24').cidr, '10.20.0.0/24');
    const problems: Array<[string, RegExp]> = [
      ['10.0.0.0', /IPv4 CIDR/],
      ['10.0.0.0/8', /from \/16 to \/29, not \/8/],
      ['10.0.0.0/30', /not \/30/],
      ['10.0.0.5/24', /host bits set: .* inside 10\.0\.0\.0\/24/],
      ['127.0.0.0/24', /reserved 127\.0\.0\.0\/8/],
      ['169.254.0.0/16', /reserved/],
      ['239.1.0.0/16', /reserved 224\.0\.0\.0\/3/],
      ['10.0.0.0/24; rm -rf /', /IPv4 CIDR/],
    ];
    for (const [text, re] of problems) {
      const p = parseCidr(text);
      assert.equal(p.ok, false, text);
      if (!p.ok) assert.match(p.problem, re, text);
    }
  });

  test('overlap: containment either way, not neighbours', () => {
    assert.equal(cidrsOverlap(cidr('10.0.0.0/16'), cidr('10.0.5.0/24')), true);
    assert.equal(cidrsOverlap(cidr('10.0.5.0/24'), cidr('10.0.0.0/16')), true);
    assert.equal(cidrsOverlap(cidr('10.0.0.0/24'), cidr('10.0.1.0/24')), false);
  });

  test('VM addresses: all usable ones but the gateway', () => {
    assert.deepEqual(vmAddressRange(cidr('10.0.0.0/29')), {
      first: parseIpv4('10.0.0.2'),
      last: parseIpv4('10.0.0.6'),
      count: 5,
    });
    assert.equal(vmAddressRange(cidr('10.0.0.0/27')).count, 29);
  });

  test('MACs: QEMU prefix, deterministic, the next free one when taken', () => {
    const a = macFor('n/vm/0', new Set());
    assert.match(a, /^52:54:00(:[0-9a-f]{2}){3}$/);
    assert.equal(macFor('n/vm/0', new Set()), a);
    const b = macFor('n/vm/0', new Set([a]));
    assert.notEqual(b, a);
    assert.match(b, /^52:54:00/);
  });
});
