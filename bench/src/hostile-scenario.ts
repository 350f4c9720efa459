/**
 * The request that took the API down (issue "No request can take the service down", finding 1):
 * a scenario of under 1 MB, every field within the scenario limits, whose run grows with
 * VMs × memslots × steps. 8 VMs of 509 memslots each (KVM_USER_MEM_SLOTS) over one 8 GiB VMA,
 * 9,000 mprotect steps across it once every VM is resident: each step walks every memslot of
 * every VM.
 */
const MiB = 1024 * 1024;
const SLOT = 2 * MiB;
const BASE = 0x40000000;

export interface HostileScenarioOptions {
  vms?: number;
  memslots?: number;
  steps?: number;
}

export function hostileScenario(opts: HostileScenarioOptions = {}): object {
  const vms = opts.vms ?? 8;
  const memslots = opts.memslots ?? 509;
  const steps = opts.steps ?? 9000;
  const perVm = memslots * SLOT;
  const vmaSize = vms * perVm;
  return {
    name: 'hostile-memslots',
    description: 'every VM at KVM_USER_MEM_SLOTS, every step across all of them',
    kernel: '5.8',
    seed: 1,
    hz: 250,
    host: { arch: 'arm64', memory: 16 * 1024 * MiB, pageSize: 4096 },
    processes: [
      {
        pid: 1200,
        comm: 'qemu',
        vmas: [{ start: BASE, size: vmaSize, anon: true }],
        vms: Array.from({ length: vms }, (_, v) => ({
          name: `g${v}`,
          ipaBits: 40,
          memslots: Array.from({ length: memslots }, (_, s) => ({
            gpa: BASE + s * SLOT,
            hva: BASE + v * perVm + s * SLOT,
            size: SLOT,
          })),
        })),
      },
    ],
    steps: [
      // resident, so that every mprotect invalidates every memslot's stage 2
      ...Array.from({ length: vms }, (_, v) => ({ at: 0, do: 'fault-in', vm: `g${v}` })),
      ...Array.from({ length: steps }, (_, i) => ({
        at: i + 1,
        do: 'mprotect',
        pid: 1200,
        start: BASE,
        size: vmaSize,
      })),
    ],
  };
}
