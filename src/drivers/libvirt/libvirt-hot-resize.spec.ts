import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dimmXml, liveSize } from './libvirt-hot-resize.js';

describe('libvirt live resize: reading the live XML', () => {
  test('current vCPUs, ceilings and DIMMs as libvirt 9 writes them', () => {
    const xml = [
      "<domain type='qemu' id='7'>",
      "  <maxMemory slots='16' unit='KiB'>524288</maxMemory>",
      "  <memory unit='KiB'>262144</memory>",
      "  <vcpu placement='static' current='2'>3</vcpu>",
      "  <devices><memory model='dimm'><target><size unit='KiB'>131072</size><node>0</node></target></memory></devices>",
      '</domain>',
    ].join('\n');
    assert.deepEqual(liveSize(xml), { vcpus: 2, maxVcpus: 3, memoryMiB: 256, maxMemoryMiB: 512, dimms: 1 });
  });

  test('a domain defined without headroom: its size is its ceiling, no DIMM room', () => {
    const xml = "<memory unit='KiB'>131072</memory>\n<vcpu placement='static'>1</vcpu>";
    assert.deepEqual(liveSize(xml), { vcpus: 1, maxVcpus: 1, memoryMiB: 128, dimms: 0 });
  });

  test('a DIMM is a whole number of MiB on node 0', () => {
    assert.match(dimmXml(128), /<size unit='MiB'>128<\/size>\s*<node>0<\/node>/);
    assert.throws(() => dimmXml(0));
    assert.throws(() => dimmXml(1.5));
  });
});
