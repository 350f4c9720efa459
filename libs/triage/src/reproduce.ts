/**
 * What reproduces a signature, and under which variants it goes away. A reproducer is a run: a
 * built-in scenario on a variant, or a simulated run of the store. Whether a variant fixes it is
 * what a counterfactual replay of each reproducer answers: the run's scenario and seed,
 * re-executed on that variant (`mnsim replay <run> --kernel <variant>`). Each (scenario, seed)
 * is re-executed once per variant whatever the number of splats or runs that share it, so a log
 * of a thousand splats costs what a log of one does.
 */
import { KERNEL_VARIANTS, type KernelVariant, type Scenario } from '@mnsim/kernel';
import { canonicalJson } from '@mnsim/events';
import { simulate } from '@mnsim/engine';
import { listBuiltinScenarios, resolveScenario } from '@mnsim/scenarios';

/** A run that produced the signature: a built-in on a variant, or a run of the store. */
export interface Reproducer {
  source: 'builtin' | 'store';
  scenario: string;
  kernel: string;
  arch: string;
  /** the stored run's id; null for a built-in */
  runId: string | null;
}

/** A simulated run of the store with the signature, and what re-executes it. */
export interface StoredReproducer {
  reproducer: Reproducer;
  scenario: Scenario;
  seed: number;
}

/** The signatures of one scenario and seed on each variant; a variant whose run failed has none. */
type Outcomes = ReadonlyMap<KernelVariant, ReadonlySet<string> | 'failed'>;

/**
 * Counterfactual outcomes, memoised by scenario and seed. A re-execution that passes a run limit
 * counts as keeping every signature: nothing says the variant fixes it.
 */
export class CounterfactualOutcomes {
  private readonly memo = new Map<string, Outcomes>();

  of(scenario: Scenario, seed: number): Outcomes {
    const key = `${seed} ${canonicalJson(scenario)}`;
    let found = this.memo.get(key);
    if (found === undefined) {
      const out = new Map<KernelVariant, ReadonlySet<string> | 'failed'>();
      for (const kernel of KERNEL_VARIANTS) {
        try {
          const r = simulate(scenario, { kernel, seed, keepKernelLog: false, encode: false });
          out.set(kernel, new Set(r.violations.map((v) => v.signature)));
        } catch {
          out.set(kernel, 'failed');
        }
      }
      found = out;
      this.memo.set(key, found);
    }
    return found;
  }

  /** whether the scenario's run on `kernel` loses `signature` */
  loses(scenario: Scenario, seed: number, kernel: KernelVariant, signature: string): boolean {
    const o = this.of(scenario, seed).get(kernel);
    return o !== undefined && o !== 'failed' && !o.has(signature);
  }
}

export interface BuiltinIndex {
  /** built-in runs that produce the signature */
  reproducers(signature: string): Reproducer[];
  /**
   * The variants under which every reproducer of the signature (the built-ins that have it on
   * some variant, and `stored`) loses it; empty when nothing reproduces it.
   */
  fixedBy(signature: string, stored?: readonly StoredReproducer[]): KernelVariant[];
}

export function indexBuiltins(outcomes = new CounterfactualOutcomes()): BuiltinIndex {
  const builtins = listBuiltinScenarios().map(({ name }) => resolveScenario(name).scenario);
  /** the built-ins with a signature on some variant, and on which */
  const bySignature = new Map<string, { scenario: Scenario; variants: KernelVariant[] }[]>();
  for (const scenario of builtins) {
    const withIt = new Map<string, KernelVariant[]>();
    for (const [kernel, found] of outcomes.of(scenario, scenario.seed)) {
      if (found === 'failed') continue;
      for (const signature of found)
        withIt.set(signature, [...(withIt.get(signature) ?? []), kernel]);
    }
    for (const [signature, variants] of withIt) {
      bySignature.set(signature, [...(bySignature.get(signature) ?? []), { scenario, variants }]);
    }
  }
  return {
    reproducers(signature) {
      return (bySignature.get(signature) ?? []).flatMap(({ scenario, variants }) =>
        variants.map((kernel) => ({
          source: 'builtin' as const,
          scenario: scenario.name,
          kernel,
          arch: scenario.host.arch,
          runId: null,
        })),
      );
    },
    fixedBy(signature, stored = []) {
      const runs = [
        ...(bySignature.get(signature) ?? []).map((b) => ({
          scenario: b.scenario,
          seed: b.scenario.seed,
        })),
        ...stored,
      ];
      if (runs.length === 0) return [];
      return KERNEL_VARIANTS.filter((k) =>
        runs.every((r) => outcomes.loses(r.scenario, r.seed, k, signature)),
      );
    },
  };
}
