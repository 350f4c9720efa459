/**
 * The payload of each event type. Everything a component printed, traced or armed since the
 * previous event rides on the next event of the chain (`log`, `trace`, `armed`), so the log
 * alone rebuilds the kernel log in order.
 */
import type {
  Address,
  Arch,
  CallName,
  ExecContext,
  KernelGlobals,
  KernelVariant,
  PrintkLine,
  Scenario,
  TraceDetail,
  ViolationRecord,
} from '@mnsim/kernel';

export interface TraceEntry {
  what: string;
  detail: TraceDetail;
}

export interface ArmedTimerEntry {
  /** the id the timer event will have */
  id: string;
  at: number;
  to: Address;
  fn: CallName;
  args: unknown;
}

export interface Attachments {
  log?: PrintkLine[];
  trace?: TraceEntry[];
  armed?: ArmedTimerEntry[];
}

export interface RunStartPayload {
  arch: Arch;
  kernel: KernelVariant;
  scenario: Scenario;
  seed: number;
}

/** A step or timer: the orchestrator hands a stimulus to a component. */
export interface StimulusPayload extends Attachments {
  args: unknown;
  ctx: ExecContext;
  fn: CallName;
  /** index into scenario.steps; null for boot stimuli and timers */
  step: number | null;
  to: Address;
}

export interface CallPayload extends Attachments {
  args: unknown;
  ctx: ExecContext;
  fn: CallName;
  from: Address;
  to: Address;
}

export interface ReturnPayload extends Attachments {
  fn: CallName;
  from: Address;
  globals: KernelGlobals;
  ret: unknown;
  to: Address | 'orchestrator';
}

export interface ViolationPayload extends Attachments {
  violation: ViolationRecord;
}

export interface RunEndPayload extends Attachments {
  events: number;
  status: 'completed';
  violations: number;
}

export interface PayloadMap {
  'run.start': RunStartPayload;
  step: StimulusPayload;
  timer: StimulusPayload;
  call: CallPayload;
  return: ReturnPayload;
  violation: ViolationPayload;
  'run.end': RunEndPayload;
}
