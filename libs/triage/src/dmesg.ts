/**
 * Splats out of a real kernel log, line by line: a log of any size is read in one pass, and only
 * the report being read is kept. Two kinds of report are recognised, both `atomic-sleep`
 * findings (the ones the kernel prints; notifier-imbalance and guest-livelock it never does):
 *
 *   BUG: sleeping function called from invalid context at <file>:<line>
 *   BUG: scheduling while atomic: <comm>/<pid>/0x<preempt_count>
 *
 * Console lines come with prefixes that are not the kernel's message: a syslog header
 * ("Dec  6 10:00:00 host kernel: "), a printk level ("<3>"), a timestamp ("[   12.345678]") and
 * a caller id ("[ T1234]", "[  C0]"). They are removed first (stripConsolePrefix).
 */

/** One splat as the log printed it, before it is titled (title.ts). */
export interface RawSplat {
  type: 'sleeping-function' | 'scheduling-while-atomic';
  /** the 1-based line of the log where it starts */
  line: number;
  /** `at <file>:<line>` of a sleeping-function splat, null for scheduling while atomic */
  site: string | null;
  comm: string | null;
  pid: number | null;
  /**
   * What ___might_sleep's "in_atomic(): 1, irqs_disabled(): 0, non_block: 0" line says (null
   * when the splat has none); "scheduling while atomic" is printed only with a preempt count.
   */
  inAtomic: number | null;
  irqsDisabled: number | null;
  nonBlock: number | null;
  /** the kernel release of its "CPU: … Comm: …" line */
  release: string | null;
  /** the architecture its registers or entry frames show, null when nothing does */
  arch: 'x86' | 'arm64' | null;
  /** its lines as the kernel printed them (console prefixes removed), the first few hundred */
  text: string[];
  /** its call trace as printed, innermost first: each frame as `{ fn, unreliable }` */
  frames: TraceFrame[];
}

export interface TraceFrame {
  fn: string;
  /** printed with "? ": the unwinder is not sure the frame is live */
  unreliable: boolean;
}

/** Lines of one report past which the rest is not kept (a runaway trace). */
const MAX_FRAMES = 256;
const MAX_TEXT_LINES = 400;

const SYSLOG_PREFIX = /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ kernel: /;
const ISO_SYSLOG_PREFIX = /^\d{4}-\d\d-\d\dT\S+ \S+ kernel: /;
const LEVEL_PREFIX = /^<\d>/;
const TIMESTAMP_PREFIX = /^\[\s*\d+\.\d+\]\s?/;
const CALLER_PREFIX = /^\[\s*[TC]\d+\]\s?/;

/** The kernel's message of a console line. */
export function stripConsolePrefix(line: string): string {
  let s = line.replace(SYSLOG_PREFIX, '').replace(ISO_SYSLOG_PREFIX, '');
  s = s.replace(LEVEL_PREFIX, '').replace(TIMESTAMP_PREFIX, '').replace(CALLER_PREFIX, '');
  return s;
}

const SLEEPING = /^BUG: sleeping function called from invalid context at (\S+)/;
const SCHEDULING = /^BUG: scheduling while atomic: (.+)\/(\d+)\/0x[0-9a-f]+/;
const IN_ATOMIC =
  /^in_atomic\(\): (\d+), irqs_disabled\(\): (\d+), (?:non_block: (\d+), )?pid: (\d+), name: (.*)$/;
/**
 * What only one architecture prints: x86's register dump, syscall entry and QEMU's PC machines;
 * arm64's register dump, EL0 entry, and its unwinder, which prints "Call trace:" from
 * dump_backtrace (arch/arm64/kernel/traps.c; x86 and powerpc print "Call Trace:").
 */
const X86_SIGN =
  /^(?:RIP: [0-9a-f]{4}:|RSP: [0-9a-f]{4}:|Hardware name: .*Standard PC)|^\s*(?:entry_SYSCALL_64|do_syscall_64|__x64_sys_)/;
const ARM64_SIGN =
  /^(?:pc : |lr : |Call trace:)|^\s*(?:el0_svc|el0_sync|el0t_64_sync|__arm64_sys_|dump_backtrace\+)/;
const CPU_LINE = /^CPU: \d+ PID: (\d+) Comm: (.*?) (?:Not tainted|Tainted: [A-Z ]*?) ?(\S+) #/;
const CALL_TRACE = /^Call [Tt]race:/;
/**
 * A frame: optional "[<address>] " (older x86 and arm64), optional "? ", the function, its
 * "+offset/size", an optional module "[i915]", an optional "file:line" and "[inline]". A
 * symbolised frame the compiler inlined has no offset: " __dump_stack lib/dump_stack.c:77 [inline]".
 */
const FRAME =
  /^\s*(?:\[<[0-9a-f]+>\]\s+)?(\?\s+)?([A-Za-z_.$][\w.$]*)(?:\+0x[0-9a-f]+\/0x[0-9a-f]+(?:\s+\[[\w-]+\])?(?:\s+\S+:\d+)?|\s+\S+\.[chS]:\d+\s+\[inline\])\s*$/;
/** Lines inside a trace that are not frames and do not end it. */
const TRACE_NOISE =
  /^\s*(?:<\/?(?:IRQ|NMI|TASK|EOI|#DF|SOFTIRQ)>|(?:RIP|RSP|RAX|RBX|RCX|RDX|RSI|RDI|RBP|R\d+|FS|CS|CR2|DR\d|Code|pc|lr|sp|x\d+)\s*:|Modules linked in:|irq event stamp:|hardirqs |softirqs |\s*$)/;
const END_TRACE = /^---\[ end trace/;

/**
 * A copy of a string that holds nothing of the one it was cut from. Readline's lines, and what a
 * regex cuts out of them, are slices of the 64 KiB chunks read from the file: a splat that kept
 * them would keep every chunk it touched alive, and memory would grow with the log.
 */
function detached(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

export class DmesgReader {
  private lineNo = 0;
  private current: RawSplat | null = null;
  private inTrace = false;
  private sawFrame = false;

  constructor(private readonly emit: (splat: RawSplat) => void) {}

  /** Feeds one line of the log (without its newline). */
  line(raw: string): void {
    this.lineNo++;
    const s = stripConsolePrefix(raw);
    const start = this.startOf(s);
    if (start) {
      this.finish();
      this.current = start;
      this.inTrace = false;
      this.sawFrame = false;
      return this.keep(start, s);
    }
    const r = this.current;
    if (r === null) return;
    if (END_TRACE.test(s)) {
      this.keep(r, s);
      return this.finish();
    }
    if (this.inTrace) {
      const f = FRAME.exec(s);
      if (f) {
        this.sawFrame = true;
        if (r.frames.length < MAX_FRAMES)
          r.frames.push({ fn: detached(f[2]), unreliable: f[1] !== undefined });
        return this.keep(r, s);
      }
      if (TRACE_NOISE.test(s)) return this.keep(r, s);
      // the first line that is neither a frame nor what traces carry ends it
      if (this.sawFrame) return this.finish();
      return this.keep(r, s);
    }
    this.keep(r, s);
    if (CALL_TRACE.test(s)) {
      this.inTrace = true;
      return;
    }
    const a = IN_ATOMIC.exec(s);
    if (a) {
      r.inAtomic = Number(a[1]);
      r.irqsDisabled = Number(a[2]);
      r.nonBlock = a[3] === undefined ? null : Number(a[3]);
      r.pid ??= Number(a[4]);
      r.comm ??= detached(a[5]);
      return;
    }
    const c = CPU_LINE.exec(s);
    if (c) {
      r.pid ??= Number(c[1]);
      r.comm ??= detached(c[2]);
      r.release = detached(c[3]);
    }
  }

  /** The log ended: the report being read is complete. */
  end(): void {
    this.finish();
  }

  private startOf(s: string): RawSplat | null {
    const sleeping = SLEEPING.exec(s);
    if (sleeping) {
      return this.splat('sleeping-function', detached(sleeping[1]), null, null);
    }
    const sched = SCHEDULING.exec(s);
    if (sched) {
      return this.splat('scheduling-while-atomic', null, detached(sched[1]), Number(sched[2]));
    }
    return null;
  }

  private splat(
    type: RawSplat['type'],
    site: string | null,
    comm: string | null,
    pid: number | null,
  ): RawSplat {
    return {
      type,
      line: this.lineNo,
      site,
      comm,
      pid,
      inAtomic: type === 'scheduling-while-atomic' ? 1 : null,
      irqsDisabled: null,
      nonBlock: null,
      release: null,
      arch: null,
      frames: [],
      text: [],
    };
  }

  /** A line of the splat: kept for its text, and looked at for what shows its architecture. */
  private keep(r: RawSplat, s: string): void {
    if (r.text.length < MAX_TEXT_LINES) r.text.push(detached(s));
    if (r.arch === null) {
      if (X86_SIGN.test(s)) r.arch = 'x86';
      else if (ARM64_SIGN.test(s)) r.arch = 'arm64';
    }
  }

  private finish(): void {
    if (this.current) this.emit(this.current);
    this.current = null;
    this.inTrace = false;
    this.sawFrame = false;
  }
}
