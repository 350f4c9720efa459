/**
 * Raw kernel addresses, for the few lines 5.8 prints them in: print_ip_sym()'s "[<%px>] %pS"
 * (include/linux/kallsyms.h:169-172) and lockdep's held-lock lines, "%px" of the lock instance
 * and "%pS" of the acquire IP (kernel/locking/lockdep.c:703-705).
 *
 * mnsim has no kernel image, so the addresses are stand-ins, fixed and plausible: each symbol
 * gets a start and a size from a small stable hash of its name (32-bit FNV-1a) inside the
 * architecture's kernel text, and an IP in it an offset from the hash of the symbol and the site.
 * Objects get fixed places in the data section, the linear map or vmalloc space (lockdep.ts).
 * Nothing depends on a clock, a random source or the run's history: a scenario prints the same
 * addresses on every run and in every process. They are not those of any real build.
 */
import type { Arch } from '../model/scenario.js';

/** Where a 64-bit 5.8 kernel of each architecture keeps things (no KASLR, no KASAN). */
export interface KernelLayout {
  /** the start of kernel text; symbols are placed in the next `textSize` bytes */
  text: bigint;
  textSize: number;
  /** alignment of an instruction, so of an IP inside a function */
  insn: number;
  /** .data/.bss: statically defined objects (DEFINE_STATIC_SRCU, DEFINE_MUTEX, a lockdep_map) */
  data: bigint;
  /** kmalloc and kmem_cache objects, in the linear map */
  linear: bigint;
  /** vmalloc'd objects */
  vmalloc: bigint;
}

// arm64, 48-bit VA: the image at KIMAGE_VADDR = MODULES_END = 0xffff800010000000, the linear map
// at PAGE_OFFSET = 0xffff000000000000 (arch/arm64/include/asm/memory.h:47-55), vmalloc space
// around the image. x86-64, 4-level: __START_KERNEL 0xffffffff81000000, the direct map at
// 0xffff888000000000, vmalloc at 0xffffc90000000000. mips64 (Malta): loaded at
// 0xffffffff80100000 (CKSEG0), memory through XKPHYS. ppc64 (book3s and book3e alike):
// KERNELBASE = PAGE_OFFSET = 0xc000000000000000, radix vmalloc at 0xc008000000000000.
const ARM64: KernelLayout = {
  text: 0xffff800010010000n,
  textSize: 0xe00000,
  insn: 4,
  data: 0xffff800011800000n,
  linear: 0xffff0000c0000000n,
  vmalloc: 0xffff800012000000n,
};
const PPC64: KernelLayout = {
  text: 0xc000000000010000n,
  textSize: 0xe00000,
  insn: 4,
  data: 0xc000000001800000n,
  linear: 0xc00000000e000000n,
  vmalloc: 0xc008000000000000n,
};
const LAYOUT: Record<Arch, KernelLayout> = {
  arm64: ARM64,
  x86: {
    text: 0xffffffff81000000n,
    textSize: 0xe00000,
    insn: 1,
    data: 0xffffffff82600000n,
    linear: 0xffff888100000000n,
    vmalloc: 0xffffc90000000000n,
  },
  mips: {
    text: 0xffffffff80100000n,
    textSize: 0x700000,
    insn: 4,
    data: 0xffffffff80900000n,
    linear: 0x9800000008000000n,
    vmalloc: 0xc000000000000000n,
  },
  'powerpc-book3s-hv': PPC64,
  'powerpc-book3s-pr': PPC64,
  'powerpc-e500': { ...PPC64, vmalloc: 0x8000000000000000n },
};

export function kernelLayout(arch: Arch): KernelLayout {
  return LAYOUT[arch];
}

/** 32-bit FNV-1a: small, stable, and the same in every process. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A symbol's place in the text: its start and its size (0x40 to 0x400 bytes). */
function symbol(arch: Arch, name: string): { start: bigint; size: number } {
  const l = LAYOUT[arch];
  const start = l.text + BigInt((fnv1a(name) % (l.textSize / 0x40)) * 0x40);
  const size = 0x40 + (fnv1a(`${name}/size`) % 0xf1) * 4;
  return { start, size };
}

/**
 * An IP inside `fn`, at the place `site` names (a lock taken there, a preempt_disable()): what
 * _RET_IP_ or _THIS_IP_ would hold. Never the symbol's first instruction.
 */
export function ipIn(arch: Arch, fn: string, site: string): bigint {
  const { start, size } = symbol(arch, fn);
  const step = LAYOUT[arch].insn;
  const slots = size / step - 1;
  return start + BigInt(step * (1 + (fnv1a(`${fn}@${site}`) % slots)));
}

/**
 * %pS: sprint_symbol(), "fn+0xoff/0xsize" (kernel/kallsyms.c:354-379 with add_offset), or
 * "0x<ip>" when no symbol contains it (line 365). mnsim only ever makes IPs with ipIn(), so
 * `fn` names the symbol; a KVM built as a module would add " [kvm]" (line 376), which the
 * model does not print, as its call traces do not.
 */
export function printSymbol(arch: Arch, fn: string | null, ip: bigint): string {
  if (fn === null) return `0x${ip.toString(16)}`;
  const { start, size } = symbol(arch, fn);
  return `${fn}+0x${(ip - start).toString(16)}/0x${size.toString(16)}`;
}

/** %px: the raw pointer, zero-padded to 2 * sizeof(void *) digits (lib/vsprintf.c:693-705). */
export function printPointer(p: bigint): string {
  return p.toString(16).padStart(16, '0');
}

/** print_ip_sym(loglvl, ip): printk("%s[<%px>] %pS\n") (include/linux/kallsyms.h:169-172). */
export function printIpSym(arch: Arch, fn: string | null, ip: bigint): string {
  return `[<${printPointer(ip)}>] ${printSymbol(arch, fn, ip)}`;
}
