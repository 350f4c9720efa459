import { describe, expect, it } from 'vitest';
import { ARCHES, KERNEL_VARIANTS } from '@mnsim/kernel';
import { simulate } from '@mnsim/engine';
import { generateScenario } from './generate.js';
import { parseScenario } from './parse.js';

describe('generateScenario', () => {
  it('is a pure function of (seed, index)', () => {
    for (let i = 0; i < 20; i++) {
      expect(generateScenario(11, i).yaml).toBe(generateScenario(11, i).yaml);
    }
    expect(generateScenario(11, 0).yaml).not.toBe(generateScenario(12, 0).yaml);
  });

  it.each(['campaign', 'invalidations'] as const)(
    'produces scenarios the validator accepts and the engine runs (%s mix)',
    (mix) => {
      const arches = new Set<string>();
      const kernels = new Set<string>();
      for (let i = 0; i < 150; i++) {
        const g = generateScenario(3, i, { mix });
        // what a user would get by saving the YAML and running it
        expect(parseScenario(g.yaml, 'saved.yaml')).toEqual(g.scenario);
        const r = simulate(g.scenario, { keepKernelLog: false });
        expect(r.events).toBeGreaterThan(0);
        arches.add(g.scenario.host.arch);
        kernels.add(g.scenario.kernel);
      }
      expect([...arches].sort()).toEqual([...ARCHES].sort());
      expect([...kernels].sort()).toEqual([...KERNEL_VARIANTS].sort());
    },
  );

  it('a campaign makes vcpu-fault steps and failing subscribers, and finds every kind', () => {
    const steps = new Set<string>();
    const kinds = new Set<string>();
    let failing = 0;
    for (let i = 0; i < 400; i++) {
      const g = generateScenario(11, i);
      for (const st of g.scenario.steps) steps.add(st.do);
      if (g.scenario.subscribers.some((sub) => sub.nonBlockable === 'eagain')) failing++;
      for (const v of simulate(g.scenario, { keepKernelLog: false }).violations) kinds.add(v.kind);
    }
    expect(steps).toContain('vcpu-fault');
    expect(failing).toBeGreaterThan(0);
    expect([...kinds].sort()).toEqual(['atomic-sleep', 'guest-livelock', 'notifier-imbalance']);
  });

  it('the invalidations mix makes more than twice the ranges per step of a campaign', () => {
    const rangesPerStep = (mix: 'campaign' | 'invalidations'): number => {
      let ranges = 0;
      let steps = 0;
      for (let i = 0; i < 40; i++) {
        const g = generateScenario(5, i, { mix, steps: 100 });
        ranges += simulate(g.scenario, { keepKernelLog: false, encode: false }).ranges;
        steps += g.scenario.steps.length;
      }
      return ranges / steps;
    };
    const campaign = rangesPerStep('campaign');
    const invalidations = rangesPerStep('invalidations');
    expect(invalidations).toBeGreaterThan(0.5);
    expect(invalidations).toBeGreaterThan(2 * campaign);
  });
});
