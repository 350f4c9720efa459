/**
 * Which built-in scenarios produce a signature, and under which variants they lose it. Each
 * built-in runs once on every variant (a counterfactual replay of its run is the same
 * simulation with another kernel), and the findings are indexed by signature: a log of a
 * thousand splats costs the same 6 × built-ins simulations as a log of one.
 */
import { KERNEL_VARIANTS, type KernelVariant } from '@mnsim/kernel';
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

export interface BuiltinIndex {
  /** built-in runs that produce the signature */
  reproducers(signature: string): Reproducer[];
  /**
   * The variants under which every built-in that produces the signature loses it (empty when
   * none reproduces it, or when some variant-free reproducer keeps it everywhere).
   */
  fixedBy(signature: string): KernelVariant[];
}

export function indexBuiltins(): BuiltinIndex {
  /** signature -> scenario -> the variants whose run has it */
  const found = new Map<string, Map<string, Set<KernelVariant>>>();
  const archOf = new Map<string, string>();
  for (const { name } of listBuiltinScenarios()) {
    const { scenario } = resolveScenario(name);
    archOf.set(name, scenario.host.arch);
    for (const kernel of KERNEL_VARIANTS) {
      const r = simulate(scenario, { kernel, keepKernelLog: false, encode: false });
      for (const v of r.violations) {
        let byScenario = found.get(v.signature);
        if (!byScenario) {
          byScenario = new Map<string, Set<KernelVariant>>();
          found.set(v.signature, byScenario);
        }
        let variants = byScenario.get(name);
        if (!variants) {
          variants = new Set<KernelVariant>();
          byScenario.set(name, variants);
        }
        variants.add(kernel);
      }
    }
  }
  return {
    reproducers(signature) {
      const out: Reproducer[] = [];
      for (const [scenario, variants] of found.get(signature) ?? []) {
        for (const kernel of KERNEL_VARIANTS) {
          if (variants.has(kernel)) {
            out.push({
              source: 'builtin',
              scenario,
              kernel,
              arch: archOf.get(scenario) ?? '?',
              runId: null,
            });
          }
        }
      }
      return out;
    },
    fixedBy(signature) {
      const byScenario = found.get(signature);
      if (!byScenario) return [];
      return KERNEL_VARIANTS.filter((k) => [...byScenario.values()].every((v) => !v.has(k)));
    },
  };
}
