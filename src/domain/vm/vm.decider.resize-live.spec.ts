import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ALL, AT, H, HOST_B, SPEC, createRequested, vm } from '../../../test/support/vm-histories.js';
import { migrateTo } from '../../../test/support/vm-columns.js';
import type { VmCommand } from './vm.commands.js';
import { evolveVm, initialVmState } from './vm.state.js';
import type { VmEvent } from './vm.events.js';
import type { CapabilityView, HotResizeView } from './vm.types.js';

const HOT: HotResizeView = { vcpus: 'grow', memory: 'grow', diskGrow: true };
const caps = (hotResize?: HotResizeView): CapabilityView => ({ ...ALL, ...(hotResize ? { hotResize } : {}) });

const resize = (
  size: { vcpus?: number; memoryMiB?: number; diskGiB?: number },
  hot: HotResizeView | null = HOT,
): VmCommand => ({ type: 'ResizeVm', operationId: 'op-resize', ...size, capabilities: caps(hot ?? undefined) });

/** H.running, created with ceilings of 8 vCPUs and 8192 MiB (SPEC: 2 vCPUs, 2048 MiB, 20 GiB). */
const withCeilings = (): VmEvent[] => {
  const [first, ...rest] = H.running;
  const create = createRequested();
  assert.equal(first?.type, create.type);
  if (create.type !== 'VmCreateRequested') throw new Error('unreachable');
  return [{ ...create, data: { ...create.data, spec: { ...SPEC, maxVcpus: 8, maxMemoryMiB: 8192 } } }, ...rest];
};

const FROM = { vcpus: 2, memoryMiB: 2048, diskGiB: 20 };
const TO = { vcpus: 4, memoryMiB: 4096, diskGiB: 30 };
const started: VmEvent = {
  type: 'VmResizeStarted',
  data: { operationId: 'op-resize', from: FROM, to: TO, live: true },
};
const succeeded: VmCommand = {
  type: 'RecordStepSucceeded',
  operationId: 'op-resize',
  step: 'resizeLive',
  output: {},
  at: AT,
};
const failedStep: VmCommand = {
  type: 'RecordStepFailed',
  operationId: 'op-resize',
  step: 'resizeLive',
  reason: 'cannot write 1 to memory.limit_in_bytes: EBUSY',
};

describe('VM decider: live resize of a running VM', () => {
  test('within the ceilings, on a driver that can: VmResizeStarted, the VM busy with a resize, its size unchanged yet', () => {
    const s = vm(withCeilings()).when(resize(TO)).then([started]);
    assert.equal(s.state, 'running');
    assert.equal(s.pending?.kind, 'resize');
    assert.equal(s.pending?.awaiting, 'resizeLive');
    assert.deepEqual(s.pending?.resizeTo, TO);
    assert.equal(s.spec?.vcpus, 2, 'the spec keeps the old size until the worker applied the new one');
  });

  test('the worker applied it: VmResized live, the new size, ceilings kept, the VM idle and running', () => {
    const s = vm([...withCeilings(), started])
      .when(succeeded)
      .then([{ type: 'VmResized', data: { operationId: 'op-resize', ...TO, live: true } }]);
    assert.equal(s.state, 'running');
    assert.equal(s.pending, null);
    assert.deepEqual({ vcpus: s.spec?.vcpus, memoryMiB: s.spec?.memoryMiB, diskGiB: s.spec?.diskGiB }, TO);
    assert.equal(s.spec?.maxVcpus, 8);
    assert.equal(s.spec?.maxMemoryMiB, 8192);
  });

  test('the worker failed: VmOperationFailed, the VM running at its old size', () => {
    const s = vm([...withCeilings(), started])
      .when(failedStep)
      .then([
        {
          type: 'VmOperationFailed',
          data: {
            operationId: 'op-resize',
            kind: 'resize',
            step: 'resizeLive',
            reason: 'cannot write 1 to memory.limit_in_bytes: EBUSY',
            state: 'running',
          },
        },
      ]);
    assert.equal(s.state, 'running');
    assert.equal(s.pending, null);
    assert.equal(s.spec?.memoryMiB, 2048);
  });

  test('one result per step: a redelivered success or failure after the first decides nothing', () => {
    const done: VmEvent = { type: 'VmResized', data: { operationId: 'op-resize', ...TO, live: true } };
    vm([...withCeilings(), started, done])
      .when(succeeded)
      .thenNothing();
    vm([...withCeilings(), started, done])
      .when(failedStep)
      .thenNothing();
  });

  test('shrinking on a driver that can remove (any): accepted', () => {
    const any: HotResizeView = { vcpus: 'any', memory: 'any', diskGrow: true };
    vm(withCeilings())
      .when(resize({ vcpus: 1, memoryMiB: 1024 }, any))
      .then([
        {
          type: 'VmResizeStarted',
          data: { operationId: 'op-resize', from: FROM, to: { vcpus: 1, memoryMiB: 1024, diskGiB: 20 }, live: true },
        },
      ]);
  });

  test('the same size → nothing, even on a host that cannot resize live', () => {
    vm(withCeilings()).when(resize(FROM, null)).thenNothing();
  });

  test('a host that declares no hot resize → unsupported, saying to stop the VM', () => {
    vm(withCeilings())
      .when(resize({ vcpus: 4 }, null))
      .thenThrows('unsupported', /cannot resize a running VM: stop the VM to resize it cold/);
  });

  test('a dimension the driver cannot change live → unsupported naming the field', () => {
    const noCpu: HotResizeView = { vcpus: 'none', memory: 'grow', diskGrow: false };
    vm(withCeilings())
      .when(resize({ vcpus: 4 }, noCpu))
      .thenThrows('unsupported', /^vcpus: the host's driver cannot change the vCPUs of a running VM/);
    vm(withCeilings())
      .when(resize({ diskGiB: 40 }, noCpu))
      .thenThrows('unsupported', /^diskGiB: the host's driver cannot grow the disk of a running VM/);
    vm(withCeilings())
      .when(resize({ memoryMiB: 4096 }, { ...noCpu, memory: 'none' }))
      .thenThrows('unsupported', /^memoryMiB: the host's driver cannot change the memory/);
  });

  test('shrinking what the driver only grows → unsupported naming the field and both numbers', () => {
    vm(withCeilings())
      .when(resize({ vcpus: 1 }))
      .thenThrows('unsupported', /^vcpus: the host's driver can only add vCPUs to a running VM \(it has 2, asked 1\)/);
    vm(withCeilings())
      .when(resize({ memoryMiB: 1024 }))
      .thenThrows('unsupported', /^memoryMiB: the host's driver can only add memory .*\(it has 2048, asked 1024\)/);
  });

  test('memory in steps the host declares (a DIMM the guest onlines whole): another size → invalid naming memoryMiB', () => {
    const stepped: HotResizeView = { ...HOT, memoryStepMiB: 128 };
    vm(withCeilings())
      .when(resize({ memoryMiB: 2048 + 100 }, stepped))
      .thenThrows(
        'invalid',
        /^memoryMiB: a running VM on this host changes memory in steps of 128 MiB \(it has 2048, asked 2148\)/,
      );
    vm(withCeilings())
      .when(resize({ memoryMiB: 2048 + 256 }, stepped))
      .then([
        {
          type: 'VmResizeStarted',
          data: { operationId: 'op-resize', from: FROM, to: { ...FROM, memoryMiB: 2304 }, live: true },
        },
      ]);
  });

  test('past a ceiling → conflict naming the field and the ceiling, and saying to stop the VM', () => {
    const err = vm(withCeilings())
      .when(resize({ vcpus: 9 }))
      .thenThrows('conflict', /^vcpus: 9 is above the VM's ceiling maxVcpus 8.*stop the VM to go beyond it/);
    assert.deepEqual(err.details, { field: 'vcpus', maxVcpus: 8, requested: 9 });
    vm(withCeilings())
      .when(resize({ memoryMiB: 8193 }))
      .thenThrows('conflict', /^memoryMiB: 8193 is above the VM's ceiling maxMemoryMiB 8192/);
  });

  test('a VM from before ceilings folds to max = current: any live growth is past it', () => {
    vm(H.running)
      .when(resize({ vcpus: 3 }))
      .thenThrows('conflict', /^vcpus: 3 is above the VM's ceiling maxVcpus 2/);
  });

  test('a disk never shrinks, live either', () => {
    vm(withCeilings())
      .when(resize({ diskGiB: 10 }))
      .thenThrows('invalid', /^diskGiB: a disk only grows/);
  });

  test('busy with the resize itself → conflict naming it', () => {
    vm([...withCeilings(), started])
      .when({ ...resize({ vcpus: 5 }), operationId: 'op-other' } as VmCommand)
      .thenThrows('conflict', /busy with operation op-resize \(resize\)/);
  });

  describe('memory given live and a later live migration', () => {
    const grownLive = (): VmEvent[] => [
      ...withCeilings(),
      {
        type: 'VmResizeStarted',
        data: { operationId: 'op-resize', from: FROM, to: { ...FROM, memoryMiB: 2304 }, live: true },
      },
      { type: 'VmResized', data: { operationId: 'op-resize', ...FROM, memoryMiB: 2304, live: true } },
    ];
    const toOtherStorage = { ...migrateTo(true, HOST_B), hotplugLayoutTravels: false } as VmCommand;

    test('to storage where the DIMM layout cannot follow → conflict naming the MiB, nothing decided', () => {
      vm(grownLive())
        .when(toOtherStorage)
        .thenThrows(
          'conflict',
          /given 256 MiB of memory live since it started.*stop and start it \(or migrate it cold\)/,
        );
    });

    test('where it travels (shared storage, libvirt), or when only vCPUs were added → accepted', () => {
      const accepted = (events: VmEvent[], cmd: VmCommand) => {
        const s = vm(events).when(cmd);
        s.then([
          {
            type: 'VmMigrationRequested',
            data: { operationId: 'op-new', sourceHostId: 'host-a', targetHostId: HOST_B, live: true },
          },
        ]);
      };
      accepted(grownLive(), { ...toOtherStorage, hotplugLayoutTravels: true } as VmCommand);
      const vcpusOnly: VmEvent[] = [
        ...withCeilings(),
        {
          type: 'VmResizeStarted',
          data: { operationId: 'op-resize', from: FROM, to: { ...FROM, vcpus: 4 }, live: true },
        },
        { type: 'VmResized', data: { operationId: 'op-resize', ...FROM, vcpus: 4, live: true } },
      ];
      accepted(vcpusOnly, toOtherStorage);
    });

    test('a stop or a crash ends the process and what was plugged into it: nothing left to carry', () => {
      const grown = grownLive().reduce(evolveVm, initialVmState());
      assert.equal(grown.liveMemoryGrownMiB, 256);
      for (const end of [
        { type: 'VmStopped', data: { operationId: 'op-stop' } },
        { type: 'VmCrashed', data: { reason: 'qemu exited', at: AT } },
      ] as VmEvent[]) {
        assert.equal(evolveVm(grown, end).liveMemoryGrownMiB, undefined, end.type);
      }
    });
  });
});
