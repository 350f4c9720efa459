import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScenarioError, UnknownScenarioError } from './errors.js';
import { listBuiltinScenarios, loadScenarioFile, resolveScenario } from './files.js';

const REQUIRED = [
  'oom-reap-arm64',
  'oom-reap-arm64-one-pgd',
  'oom-reap-arm64-16k',
  'oom-reap-arm64-64k',
  'oom-reap-x86',
  'oom-reap-mips',
  'oom-reap-powerpc-book3s-hv',
  'oom-reap-powerpc-book3s-pr',
  'oom-reap-powerpc-e500',
  'blockable-paths-arm64',
  'oom-reap-shared-guest-ram',
  'oom-reap-locked-guest-ram',
  'userptr-eagain-arm64',
  'interval-eagain-arm64',
  'reaper-trylock-fails-arm64',
  'victim-exits-arm64',
  'oom-sysrq-arm64',
  'rate-limit-arm64',
];

describe('built-in scenarios', () => {
  const builtins = listBuiltinScenarios();

  it('lists every required scenario, sorted by name', () => {
    const names = builtins.map((b) => b.name);
    expect(names).toEqual([...names].sort());
    for (const name of REQUIRED) expect(names).toContain(name);
  });

  it.each(builtins.map((b) => [b.name, b] as const))('%s parses and is described', (name, b) => {
    const scenario = loadScenarioFile(b.file);
    expect(scenario.name).toBe(name);
    expect(basename(b.file)).toBe(`${name}.yaml`);
    expect(b.description).toBe(scenario.description);
    expect(scenario.description).toMatch(/oracles? \d+/);
    expect(scenario.description).not.toContain('\n');
    expect(scenario.steps.length).toBeGreaterThan(0);
    // small: guests of a few GiB at most, a handful of steps
    expect(scenario.steps.length).toBeLessThanOrEqual(10);
    for (const p of scenario.processes) {
      for (const vm of p.vms) {
        for (const m of vm.memslots) expect(m.size).toBeLessThanOrEqual(4 * 1024 ** 3);
      }
    }
  });

  it('resolves a built-in by name, with its source text', () => {
    const r = resolveScenario('oom-reap-arm64');
    expect(r.scenario.name).toBe('oom-reap-arm64');
    expect(r.file).toBe(builtins.find((b) => b.name === 'oom-reap-arm64')?.file);
    expect(r.source).toBe(readFileSync(r.file, 'utf8'));
  });

  it('resolves a path to a file', () => {
    const file = builtins.find((b) => b.name === 'oom-reap-x86')?.file as string;
    const r = resolveScenario(file);
    expect(r.scenario.host.arch).toBe('x86');
    expect(r.file).toBe(file);
  });

  it('names the built-ins when the argument is neither a file nor a built-in', () => {
    let err: unknown;
    try {
      resolveScenario('no-such-scenario');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownScenarioError);
    const u = err as UnknownScenarioError;
    expect(u.exitCode).toBe(2);
    expect(u.message).toContain('unknown scenario "no-such-scenario"');
    expect(u.message).toContain('oom-reap-arm64, oom-reap-arm64-16k');
    expect(u.message.split('\n')).toHaveLength(1);
    expect(() => resolveScenario('missing/dir/file.yaml')).toThrow(UnknownScenarioError);
  });

  it('reports an unreadable file as a scenario error', () => {
    expect(() => loadScenarioFile('/nonexistent/x.yaml')).toThrow(
      new ScenarioError('/nonexistent/x.yaml', '', 'cannot read the scenario file: no such file'),
    );
  });
});
