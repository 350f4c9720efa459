/**
 * dump_stack() as each architecture's 5.8 build prints it: the header line, "Hardware name:",
 * and the call trace. Offsets (+0x160/0x1ac) are not modelled; frames the compiler inlined are
 * left out of the printed trace, as they were in the real splat (reference §6.2, §8.1).
 */
import type { ExecContext } from './context.js';
import type { Arch } from '../model/scenario.js';
import type { Variant } from '../variants.js';

interface ArchDump {
  hardwareName: string;
  callTraceHeader: string;
  /** frames of the printing code itself, innermost first, shown above ___might_sleep */
  printingFrames: string[];
  /** static functions inlined by that build: absent from the printed trace */
  inlined: ReadonlySet<string>;
}

// arm64 5.8 (reference §6.2): handle_hva_to_gpa and kvm_unmap_hva_handler are inlined into
// kvm_unmap_hva_range, mn_hlist_invalidate_range_start into __mmu_notifier_invalidate_range_start,
// oom_reap_task_mm into oom_reap_task. The inlining of the other arches' builds is unknown, so
// their traces print every frame.
const ARM64_INLINED = new Set([
  'kvm_unmap_hva_handler',
  'handle_hva_to_gpa',
  'mn_hlist_invalidate_range_start',
  'oom_reap_task_mm',
]);

const ARCH_DUMP: Record<Arch, ArchDump> = {
  arm64: {
    hardwareName: 'QEMU QEMU Virtual Machine, BIOS 0.0.0 02/06/2015',
    callTraceHeader: 'Call trace:',
    printingFrames: ['dump_backtrace', 'show_stack', 'dump_stack'],
    inlined: ARM64_INLINED,
  },
  x86: {
    hardwareName: 'QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.13.0-1ubuntu1 04/01/2014',
    callTraceHeader: 'Call Trace:',
    printingFrames: ['dump_stack'],
    inlined: new Set(),
  },
  mips: {
    hardwareName: 'mti,malta',
    callTraceHeader: 'Call Trace:',
    printingFrames: ['show_stack', 'dump_stack'],
    inlined: new Set(),
  },
  'powerpc-book3s-hv': {
    hardwareName:
      'IBM,8247-22L POWER8E (raw) 0x4b0201 0xf000004 of:IBM,FW860.20 (SV860_082) hv:phyp pSeries',
    callTraceHeader: 'Call Trace:',
    printingFrames: ['dump_stack'],
    inlined: new Set(),
  },
  'powerpc-book3s-pr': {
    hardwareName:
      'IBM pSeries (emulated by qemu) POWER9 (raw) 0x4e1202 0xf000005 of:SLOF,HEAD pSeries',
    callTraceHeader: 'Call Trace:',
    printingFrames: ['dump_stack'],
    inlined: new Set(),
  },
  'powerpc-e500': {
    hardwareName: 'QEMU ppce500',
    callTraceHeader: 'Call Trace:',
    printingFrames: ['dump_stack'],
    inlined: new Set(),
  },
};

/**
 * The symbol an IP in `fn` resolves to (what %pS prints): `fn` itself, or, when that build inlined
 * it, the function it was inlined into, found by walking `stack` (outermost first) outward from
 * `fn`'s frame. `fn` not on the stack is taken as its own symbol.
 */
export function symbolOf(arch: Arch, stack: readonly string[], fn: string): string {
  const inlined = ARCH_DUMP[arch].inlined;
  let i = stack.lastIndexOf(fn);
  if (i < 0) return fn;
  while (i > 0 && inlined.has(stack[i])) i--;
  return inlined.has(stack[i]) ? fn : stack[i];
}

/** print_tainted(): "Not tainted", or "Tainted: " and one character per taint flag (18 at 5.8). */
export function printTainted(taintWarn: boolean): string {
  if (!taintWarn) return 'Not tainted';
  // P F S R M B U D A W C I O E L K X T: 'G' for !P, 'W' at position 9, spaces elsewhere
  return `Tainted: G        W        `;
}

/** The lines of dump_stack() from `stackInnermostFirst` (which starts below the printing frames). */
export function dumpStackLines(
  arch: Arch,
  variant: Variant,
  ctx: ExecContext,
  stackInnermostFirst: readonly string[],
): string[] {
  const dump = ARCH_DUMP[arch];
  const lines = [
    `CPU: ${ctx.cpu} PID: ${ctx.task.pid} Comm: ${ctx.task.comm} ${printTainted(ctx.globals.taintWarn)} ${variant.release} ${variant.version}`,
    `Hardware name: ${dump.hardwareName}`,
    dump.callTraceHeader,
  ];
  for (const f of dump.printingFrames) lines.push(` ${f}`);
  for (const f of stackInnermostFirst) if (!dump.inlined.has(f)) lines.push(` ${f}`);
  return lines;
}
