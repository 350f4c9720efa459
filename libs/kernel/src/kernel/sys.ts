/**
 * The boundary between the pure model and whatever runs it. A component reaches another
 * component only through `Sys.call`, prints only through `Sys.printk`, and arms timers only
 * through `Sys.arm`: the embedded engine implements these with direct calls, the distributed
 * workers with messages. Nothing in the model reads a clock or a random source.
 */
import type { ExecContext } from './context.js';
import type { LogLevel } from './printk.js';
import type { Arch, HostSpec, Scenario } from '../model/scenario.js';
import type { Variant } from '../variants.js';
import type { ViolationRecord } from './sched/violation.js';
import type { CallMap, CallName } from '../run/calls.js';

export type Address = 'task' | 'mm' | 'oom' | `kvm:${Arch}`;

export interface Sys {
  readonly hz: number;
  readonly variant: Variant;
  readonly host: HostSpec;
  readonly scenario: Scenario;
  /** a kernel call into another component, continuing the chain in `ctx` */
  call<F extends CallName>(
    ctx: ExecContext,
    to: Address,
    fn: F,
    args: CallMap[F]['args'],
  ): CallMap[F]['ret'];
  printk(ctx: ExecContext, level: LogLevel, text: string): void;
  /** finer trace inside the current message (walk details, counters); not printed by the kernel */
  trace(ctx: ExecContext, what: string, detail: TraceDetail): void;
  /** a failed ___might_sleep check; the engine gives it its place in the log */
  violation(ctx: ExecContext, v: ViolationRecord): void;
  /** a timer: `fn` runs on `to` at jiffy `at` in a new chain */
  arm<F extends CallName>(
    ctx: ExecContext,
    at: number,
    to: Address,
    fn: F,
    args: CallMap[F]['args'],
  ): void;
}

export type TraceDetail = Record<string, number | string | boolean | null | number[]>;
