/**
 * Campaigns of built-in runs for the process tests: built-in scenarios × variants × seeds, all
 * submitted at once, and the check that each one equals its embedded twin (simulate()).
 */
import { expect } from 'vitest';
import { KERNEL_VARIANTS, type KernelVariant, type Scenario } from '@mnsim/kernel';
import { simulate } from '@mnsim/engine';
import { listBuiltinScenarios, resolveScenario } from '@mnsim/scenarios';
import { runDistributedWith, type DistributedRun } from '@mnsim/bus';
import type { Env } from './harness.js';

export interface Case {
  scenario: Scenario;
  source: string;
  kernel: KernelVariant;
  seed: number;
}

export interface CaseResult {
  c: Case;
  run: DistributedRun;
}

/** `rounds` × every built-in scenario × every variant; round r runs the scenario's seed + r. */
export function campaign(rounds: number): Case[] {
  const out: Case[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const { name } of listBuiltinScenarios()) {
      const { scenario, source } = resolveScenario(name);
      for (const kernel of KERNEL_VARIANTS)
        out.push({ scenario, source, kernel, seed: scenario.seed + round });
    }
  }
  return out;
}

export function runCase(env: Env, c: Case, timeoutMs = 30_000): Promise<CaseResult> {
  return runDistributedWith(env.store, env.client, c.scenario, c.source, {
    kernel: c.kernel,
    seed: c.seed,
    timeoutMs,
  }).then((run) => ({ c, run }));
}

export function runAll(env: Env, cases: Case[], timeoutMs = 30_000): Promise<CaseResult[]> {
  return Promise.all(cases.map((c) => runCase(env, c, timeoutMs)));
}

/** A campaign submitted at once and followed as it settles (the fault tests act in the middle). */
export interface CampaignInFlight {
  /** runs settled so far */
  done: () => number;
  /** resolves once every run has; rejects after `ms`, naming the runs still unresolved */
  settledWithin(ms: number): Promise<CaseResult[]>;
}

export function startCampaign(env: Env, cases: Case[], timeoutMs: number): CampaignInFlight {
  const settled: Array<CaseResult | null> = cases.map(() => null);
  const all = Promise.all(
    cases.map((c, i) =>
      runCase(env, c, timeoutMs).then((r) => {
        settled[i] = r;
        return r;
      }),
    ),
  );
  return {
    done: () => settled.filter((r) => r !== null).length,
    async settledWithin(ms) {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          all,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              const hung = cases
                .filter((_, i) => settled[i] === null)
                .map((c) => `${c.scenario.name} ${c.kernel} seed ${c.seed}`);
              reject(new Error(`${hung.length} runs still unresolved: ${hung.join(', ')}`));
            }, ms);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export function label({ c, run }: CaseResult): string {
  return `${c.scenario.name} ${c.kernel} seed ${c.seed}: ${run.failureReason ?? ''}`;
}

/**
 * Every run completed with its embedded twin's logHash, event count and violations, and the store
 * (Postgres) holds exactly the embedded violations for it. Returns the embedded violation total.
 */
export async function expectEmbedded(env: Env, results: CaseResult[]): Promise<number> {
  let total = 0;
  for (const r of results) {
    const { c, run } = r;
    const embedded = simulate(c.scenario, { kernel: c.kernel, seed: c.seed });
    total += embedded.violations.length;
    const l = label(r);
    expect(run.status, l).toBe('completed');
    expect(run.logHash, l).toBe(embedded.logHash);
    expect(run.violations, l).toEqual(embedded.violations);
    const stored = await env.store.queryViolations({ run: run.runId, limit: 1000 });
    expect(stored.rows.length, l).toBe(embedded.violations.length);
    const row = await env.store.getRun(run.runId);
    expect(row?.violations, l).toBe(embedded.violations.length);
    expect(row?.events, l).toBe(embedded.events);
  }
  return total;
}
