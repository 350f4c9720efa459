/**
 * A splat's title, as syzkaller titles Linux crashes (google/syzkaller pkg/report: linux.go's
 * oops formats and stack parameters, report.go's frame extraction):
 *
 * - "BUG: sleeping function called from invalid context in <frame>", and "BUG: scheduling while
 *   atomic in <frame>", the frame being the first of the call trace, innermost first, that is not
 *   skipped; no frame at all gives "… in corrupted";
 * - a frame printed with "? " is never used, nor a symbolised "[inline]" one;
 * - a name is cut at its first "." or "+": ".cold", ".isra.N", ".constprop.N", ".part.N" and the
 *   offset go;
 * - the skipped frames are the ones that print, walk the stack, check for sleeping, take locks,
 *   allocate or copy memory (matched anywhere in the name unless anchored), and for scheduling
 *   while atomic anything with "schedule" in it;
 * - one syscall prefix is removed from the frame ("__x64_sys_ioctl" -> "sys_ioctl",
 *   "__se_sys_ioctl" -> "ioctl"), whichever leaves the shortest name.
 *
 * The list below is the part of syzkaller's rules that the splats of this path meet; the rules
 * are syzkaller's, the list is ours.
 */
import type { RawSplat } from './dmesg.js';

const SKIP = new RegExp(
  [
    // printing the splat and walking the stack
    'show_stack',
    'dump_stack',
    'walk_stack',
    'dump_backtrace',
    'print_',
    'printk',
    'panic',
    'report_bug',
    '__warn',
    'warn_slowpath',
    'stack_trace_',
    'arch_stack_walk',
    // the checks themselves
    'might_sleep',
    '__might_resched',
    'might_fault',
    'lockdep',
    'lock_acquire',
    'lock_release',
    'mark_lock',
    // locks
    'spin_lock',
    'spin_trylock',
    'spin_unlock',
    'read_lock',
    'write_lock',
    'read_unlock',
    'write_unlock',
    '^down$',
    'down_read',
    'down_write',
    'down_trylock',
    'up_read',
    'up_write',
    '^mutex_',
    '^__mutex_',
    '^rt_mutex_',
    // allocation and copying
    'k?v?(?:m|z|c)alloc',
    'krealloc',
    'kmem_cache',
    'slab_',
    'alloc_page',
    'memcpy',
    'memset',
    'memmove',
    'memdup',
    'memcmp',
    'memchr',
    '^str(?:n|l|s)?(?:cpy|cmp|len|dup|chr|str)$',
    'copy_to_user',
    'copy_from_user',
    'put_user',
    'get_user',
    '^kv?free$',
    // arm64's exception entry
    'do_mem_abort',
    'el1_abort',
    'el1h_64_sync',
  ].join('|'),
);

const SYSCALL_PREFIXES = [
  'SYSC_',
  'SyS_',
  'sys_',
  '__x64_',
  '__ia32_',
  '__arm64_',
  '____sys_',
  '___sys_',
  '__sys_',
  '__se_',
  '__se_sys_',
  '__do_sys_',
  'compat_SYSC_',
  'compat_SyS_',
  'ksys_',
];

/** A frame's name as titles use it: cut at its first "." (".cold", ".isra.0", …). */
export function frameName(fn: string): string {
  const dot = fn.indexOf('.');
  return dot === -1 ? fn : fn.slice(0, dot);
}

/** One syscall prefix off, whichever leaves the shortest name. */
export function stripSyscallPrefix(fn: string): string {
  let out = fn;
  for (const p of SYSCALL_PREFIXES) {
    if (fn.startsWith(p) && fn.length - p.length < out.length) out = fn.slice(p.length);
  }
  return out;
}

/** The splat's call trace as titles see it: reliable frames, names cut, innermost first. */
export function titleFrames(splat: RawSplat): string[] {
  return splat.frames.filter((f) => !f.unreliable).map((f) => frameName(f.fn));
}

/** The first frame that is not skipped, or null. */
export function keyFrame(splat: RawSplat): string | null {
  const extraSkip = splat.type === 'scheduling-while-atomic' ? /schedule/ : null;
  for (const fn of titleFrames(splat)) {
    if (SKIP.test(fn) || extraSkip?.test(fn)) continue;
    return stripSyscallPrefix(fn);
  }
  return null;
}

/** The splat's title, as syzkaller would give it. */
export function titleOf(splat: RawSplat): string {
  const frame = keyFrame(splat) ?? 'corrupted';
  return splat.type === 'sleeping-function'
    ? `BUG: sleeping function called from invalid context in ${frame}`
    : `BUG: scheduling while atomic in ${frame}`;
}
