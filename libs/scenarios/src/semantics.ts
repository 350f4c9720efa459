/**
 * Rules that span fields: page alignment, address-space bounds, overlaps, and references between
 * processes, vms, subscribers and steps. They run on a scenario of the right shape, with every
 * default filled in and every size and address in bytes; steps are still in file order, so that
 * paths name the step as the file has it.
 */
import { type Scenario } from '@mnsim/kernel';
import { type PathSegment } from './errors.js';
import { type Problem } from './issues.js';
import { ipaBitsRange, LIMITS, PAGE_SIZES } from './limits.js';
import { formatAddress as hex, formatSize } from './units.js';

type Report = (path: PathSegment[], reason: string) => void;

function span(start: number, size: number): string {
  return `[${hex(start)}, ${hex(start + size)})`;
}

/** Problems with `host`: everything else is measured in its page size, so these come first. */
export function hostProblems(s: Scenario): Problem[] {
  const out: Problem[] = [];
  const report: Report = (path, reason) => out.push({ path, reason });
  const { arch, memory, pageSize } = s.host;
  const sizes = PAGE_SIZES[arch] ?? [];
  if (!sizes.includes(pageSize)) {
    report(
      ['host', 'pageSize'],
      `page size ${formatSize(pageSize)} is not available on ${arch} (allowed: ${sizes.map(formatSize).join(', ')})`,
    );
  }
  if (memory < LIMITS.minMemory) {
    report(['host', 'memory'], `host memory must be at least 16MiB, got ${formatSize(memory)}`);
  } else if (memory > LIMITS.maxMemory) {
    report(
      ['host', 'memory'],
      `host memory above 16TiB is not supported, got ${formatSize(memory)}`,
    );
  } else if (sizes.includes(pageSize) && memory % pageSize !== 0) {
    report(
      ['host', 'memory'],
      `${memory} bytes is not a multiple of the page size (${formatSize(pageSize)})`,
    );
  }
  return out;
}

/** Everything else; call only when hostProblems found nothing. */
export function scenarioProblems(s: Scenario): Problem[] {
  const out: Problem[] = [];
  const report: Report = (path, reason) => out.push({ path, reason });
  const pageSize = s.host.pageSize;
  const page = formatSize(pageSize);

  const aligned = (path: PathSegment[], value: number, what: string): boolean => {
    if (value % pageSize === 0) return true;
    report(path, `${what} ${hex(value)} is not a multiple of the page size (${page})`);
    return false;
  };
  const positiveSize = (path: PathSegment[], size: number): boolean => {
    if (size <= 0) {
      report(path, 'size must be greater than 0');
      return false;
    }
    if (size % pageSize !== 0) {
      report(path, `size ${size} bytes is not a multiple of the page size (${page})`);
      return false;
    }
    return true;
  };
  /** A user address range [start, start+size): page-aligned, not empty, below 2^48. */
  const userRange = (base: PathSegment[], start: number, size: number, what: string): boolean => {
    const okStart = aligned([...base, 'start'], start, 'start');
    const okSize = positiveSize([...base, 'size'], size);
    if (!okStart || !okSize) return false;
    if (start + size > LIMITS.userAddressSpace) {
      report(
        [...base, 'size'],
        `${what} ${span(start, size)} ends above the 48-bit user address space (${hex(LIMITS.userAddressSpace)})`,
      );
      return false;
    }
    return true;
  };

  // processes, their VMAs and their vms
  const pidIndex = new Map<number, number>();
  const vmOwner = new Map<string, { pid: number; path: string }>();
  s.processes.forEach((p, i) => {
    const base: PathSegment[] = ['processes', i];
    if (p.pid !== 1 && p.pid < LIMITS.minUserPid) {
      report(
        [...base, 'pid'],
        `pid ${p.pid} is not allowed: pids below 100 belong to kernel threads in mnsim (oom_reaper is 36); use 1 (init) or 100..${LIMITS.maxPid}`,
      );
    } else if (p.pid > LIMITS.maxPid) {
      report([...base, 'pid'], `pid ${p.pid} is above PID_MAX_LIMIT (${LIMITS.maxPid})`);
    } else if (pidIndex.has(p.pid)) {
      report([...base, 'pid'], `pid ${p.pid} is already used by processes[${pidIndex.get(p.pid)}]`);
    } else {
      pidIndex.set(p.pid, i);
    }

    const goodVmas: number[] = [];
    p.vmas.forEach((v, j) => {
      if (userRange([...base, 'vmas', j], v.start, v.size, 'VMA')) goodVmas.push(j);
    });
    // overlaps: sweep the well-formed VMAs by start, remembering the one reaching furthest
    const byStart = [...goodVmas].sort((a, b) => p.vmas[a].start - p.vmas[b].start || a - b);
    let reach: number | undefined;
    for (const j of byStart) {
      const v = p.vmas[j];
      if (reach !== undefined) {
        const r = p.vmas[reach];
        if (v.start < r.start + r.size) {
          const [first, second] = reach < j ? [reach, j] : [j, reach];
          const a = p.vmas[first];
          const b = p.vmas[second];
          report(
            [...base, 'vmas', second],
            `vmas[${second}] ${span(b.start, b.size)} overlaps vmas[${first}] ${span(a.start, a.size)}`,
          );
        }
        if (v.start + v.size > r.start + r.size) reach = j;
      } else {
        reach = j;
      }
    }
    const mapped = byStart.map((j) => p.vmas[j]);
    /** the first address of [start, end) no VMA of this process covers, or undefined */
    const firstHole = (start: number, end: number): number | undefined => {
      let at = start;
      for (const v of mapped) {
        if (v.start > at) break;
        if (v.start + v.size > at) at = v.start + v.size;
        if (at >= end) return undefined;
      }
      return at;
    };

    p.vms.forEach((vm, k) => {
      const vmBase: PathSegment[] = [...base, 'vms', k];
      const owner = vmOwner.get(vm.name);
      if (owner) {
        report([...vmBase, 'name'], `vm name "${vm.name}" is already used by ${owner.path}`);
      } else {
        vmOwner.set(vm.name, { pid: p.pid, path: `processes[${i}].vms[${k}]` });
      }
      let ipaOk = true;
      if (s.host.arch === 'arm64') {
        const { min, max } = ipaBitsRange(pageSize);
        if (vm.ipaBits < min || vm.ipaBits > max) {
          report(
            [...vmBase, 'ipaBits'],
            `ipaBits must be between ${min} and ${max} with ${page} pages on arm64, got ${vm.ipaBits}`,
          );
          ipaOk = false;
        }
      } else if (vm.ipaBits !== LIMITS.defaultIpaBits) {
        report(
          [...vmBase, 'ipaBits'],
          `ipaBits applies to arm64 only (host arch is ${s.host.arch}); omit it or leave it at ${LIMITS.defaultIpaBits}`,
        );
        ipaOk = false;
      }
      const goodSlots: number[] = [];
      vm.memslots.forEach((m, n) => {
        const mBase: PathSegment[] = [...vmBase, 'memslots', n];
        const okGpa = aligned([...mBase, 'gpa'], m.gpa, 'gpa');
        const okHva = aligned([...mBase, 'hva'], m.hva, 'hva');
        const okSize = positiveSize([...mBase, 'size'], m.size);
        if (!okGpa || !okHva || !okSize) return;
        if (ipaOk && m.gpa + m.size > 2 ** vm.ipaBits) {
          report(
            [...mBase, 'gpa'],
            `gpa range ${span(m.gpa, m.size)} ends above the ${vm.ipaBits}-bit IPA space (${formatSize(2 ** vm.ipaBits)})`,
          );
          return;
        }
        const hole = firstHole(m.hva, m.hva + m.size);
        if (hole !== undefined) {
          report(
            [...mBase, 'hva'],
            `hva range ${span(m.hva, m.size)} is not inside the VMAs of pid ${p.pid} (${hex(hole)} is not mapped)`,
          );
        }
        goodSlots.push(n);
      });
      // KVM refuses a memslot whose gpa range overlaps another one of the same address space
      const slots = [...goodSlots].sort((a, b) => vm.memslots[a].gpa - vm.memslots[b].gpa || a - b);
      for (let x = 1; x < slots.length; x++) {
        const prev = vm.memslots[slots[x - 1]];
        const cur = vm.memslots[slots[x]];
        if (cur.gpa < prev.gpa + prev.size) {
          const [first, second] =
            slots[x - 1] < slots[x] ? [slots[x - 1], slots[x]] : [slots[x], slots[x - 1]];
          const a = vm.memslots[first];
          const b = vm.memslots[second];
          report(
            [...vmBase, 'memslots', second, 'gpa'],
            `gpa range ${span(b.gpa, b.size)} overlaps memslots[${first}] ${span(a.gpa, a.size)}`,
          );
        }
      }
    });
  });

  const pids = [...pidIndex.keys()];
  const knownPid = (path: PathSegment[], pid: number): boolean => {
    if (pidIndex.has(pid)) return true;
    report(
      path,
      `pid ${pid} is not a process of this scenario (pids: ${pids.length > 0 ? pids.join(', ') : 'none'})`,
    );
    return false;
  };
  const vmNames = [...vmOwner.keys()];
  const knownVm = (path: PathSegment[], name: string): boolean => {
    if (vmOwner.has(name)) return true;
    report(
      path,
      `vm ${JSON.stringify(name)} not found; known vms: ${vmNames.length > 0 ? vmNames.join(', ') : 'none'}`,
    );
    return false;
  };

  s.subscribers.forEach((sub, i) => {
    const base: PathSegment[] = ['subscribers', i];
    knownPid([...base, 'pid'], sub.pid);
    if (sub.kind === 'userptr' && (sub.start === undefined) !== (sub.size === undefined)) {
      const given = sub.start === undefined ? 'size' : 'start';
      report(
        [...base, given],
        `a userptr subscriber takes start and size together, or neither (the whole address space); ${given === 'start' ? 'size' : 'start'} is missing`,
      );
      return;
    }
    if (sub.start !== undefined && sub.size !== undefined) {
      userRange(base, sub.start, sub.size, `${sub.kind} range`);
    }
  });

  s.steps.forEach((step, t) => {
    const base: PathSegment[] = ['steps', t];
    switch (step.do) {
      case 'fault-in':
      case 'destroy-vm':
        knownVm([...base, 'vm'], step.vm);
        break;
      case 'vcpu-fault':
        if (knownVm([...base, 'vm'], step.vm)) {
          const slots = s.processes.flatMap((p) => p.vms).find((v) => v.name === step.vm)!.memslots;
          if (!slots.some((m) => step.gpa >= m.gpa && step.gpa < m.gpa + m.size)) {
            report(
              [...base, 'gpa'],
              `0x${step.gpa.toString(16)} is in no memslot of vm "${step.vm}"`,
            );
          }
        }
        break;
      case 'allocate':
        if (knownPid([...base, 'pid'], step.pid)) positiveSize([...base, 'size'], step.size);
        break;
      case 'munmap':
      case 'migrate':
      case 'mprotect':
        if (knownPid([...base, 'pid'], step.pid)) {
          userRange(base, step.start, step.size, `${step.do} range`);
        }
        break;
      case 'hold-mmap-lock':
      case 'exit':
        if (knownPid([...base, 'pid'], step.pid) && step.do === 'exit' && step.pid === 1) {
          report([...base, 'pid'], 'init (pid 1) cannot exit: the kernel would panic');
        }
        break;
      case 'oom':
        break;
    }
  });
  if (out.length === 0) lifecycleProblems(s, vmOwner, report);
  return out;
}

/**
 * Steps in run order (by `at`, then file order) must make sense one after the other: nothing
 * touches a process after its exit, or a vm after destroy-vm or after its process exited (the
 * kernel model would only answer -ESRCH; in a scenario file that is a mistake worth naming).
 * A step that needs an mmap lock a hold-mmap-lock holds is fine: the run defers it.
 */
function lifecycleProblems(
  s: Scenario,
  vmOwner: Map<string, { pid: number }>,
  report: Report,
): void {
  const order = s.steps.map((_, t) => t).sort((a, b) => s.steps[a].at - s.steps[b].at || a - b);
  const exited = new Map<number, { t: number; at: number }>();
  const destroyed = new Map<string, { t: number; at: number }>();
  for (const t of order) {
    const step = s.steps[t];
    const base: PathSegment[] = ['steps', t];
    if (step.do === 'fault-in' || step.do === 'vcpu-fault' || step.do === 'destroy-vm') {
      const gone = destroyed.get(step.vm);
      const owner = vmOwner.get(step.vm)?.pid;
      const ownerExit = owner === undefined ? undefined : exited.get(owner);
      if (gone) {
        report(
          [...base, 'vm'],
          `vm "${step.vm}" was already destroyed by steps[${gone.t}] at jiffy ${gone.at}`,
        );
        continue;
      }
      if (ownerExit) {
        report(
          [...base, 'vm'],
          `vm "${step.vm}" went away when its process ${owner} exited (steps[${ownerExit.t}] at jiffy ${ownerExit.at})`,
        );
        continue;
      }
    } else if (step.do !== 'oom') {
      const gone = exited.get(step.pid);
      if (gone) {
        report(
          [...base, 'pid'],
          `process ${step.pid} already exited (steps[${gone.t}] at jiffy ${gone.at})`,
        );
        continue;
      }
    }
    if (step.do === 'exit') exited.set(step.pid, { t, at: step.at });
    if (step.do === 'destroy-vm') destroyed.set(step.vm, { t, at: step.at });
  }
}
