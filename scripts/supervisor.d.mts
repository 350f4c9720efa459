// Types of supervisor.mjs, for the tests that import it.

export declare const BACKOFF_FIRST_MS: number;
export declare const BACKOFF_MAX_MS: number;
export declare const STABLE_AFTER_MS: number;
export declare const EXIT_BAD_CONFIG: number;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  upMs: number;
}

export type ExitDecision =
  { action: 'stop' } | { action: 'restart'; delayMs: number; failures: number };

export declare function backoffMs(failures: number): number;
export declare function onUnexpectedExit(exit: ProcessExit, failures: number): ExitDecision;
export declare function describeExit(code: number | null, signal: NodeJS.Signals | null): string;
