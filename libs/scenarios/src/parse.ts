/**
 * parseScenario: YAML text → validated, normalized Scenario, or one ScenarioError naming the file,
 * the field path and the reason of the first problem in document order.
 */
import { type Scenario, type Step, type SubscriberSpec } from '@mnsim/kernel';
import { ScenarioError, formatPath } from './errors.js';
import { type Problem, problemOf, reasonFor } from './issues.js';
import { type ParsedScenario, scenarioSchema } from './schema.js';
import { hostProblems, scenarioProblems } from './semantics.js';
import { type YamlSource, lineOfPath, positionOf, readYaml } from './yaml-source.js';

/**
 * Throw for the problem that comes first in the document; without a document (plain data), the
 * first one found.
 */
function throwFirst(file: string, problems: readonly Problem[], src?: YamlSource): never {
  if (!src) {
    const first = problems[0];
    throw new ScenarioError(file, formatPath(first.path), first.reason);
  }
  // Array.prototype.sort is stable: problems at the same place keep the order they were found in
  const ranked = problems
    .map((p) => ({ p, pos: positionOf(src, p.path) }))
    .sort((a, b) => a.pos - b.pos);
  const first = ranked[0].p;
  throw new ScenarioError(file, formatPath(first.path), first.reason, lineOfPath(src, first.path));
}

function subscriberOf(sub: ParsedScenario['subscribers'][number]): SubscriberSpec {
  if (sub.kind === 'interval') {
    return {
      kind: 'interval',
      pid: sub.pid,
      nonBlockable: sub.nonBlockable,
      start: sub.start,
      size: sub.size,
    };
  }
  // a userptr object without a range covers the whole address space: no keys at all, so that the
  // canonical encoding of a scenario has no undefined in it
  return {
    kind: 'userptr',
    pid: sub.pid,
    nonBlockable: sub.nonBlockable,
    ...(sub.start !== undefined ? { start: sub.start } : {}),
    ...(sub.size !== undefined ? { size: sub.size } : {}),
  };
}

function stepOf(step: ParsedScenario['steps'][number]): Step {
  switch (step.do) {
    case 'fault-in':
    case 'destroy-vm':
      return { at: step.at, do: step.do, vm: step.vm };
    case 'vcpu-fault':
      return { at: step.at, do: step.do, vm: step.vm, gpa: step.gpa };
    case 'allocate':
      return { at: step.at, do: step.do, pid: step.pid, size: step.size };
    case 'hold-mmap-lock':
      return { at: step.at, do: step.do, pid: step.pid, for: step.for };
    case 'munmap':
    case 'migrate':
    case 'mprotect':
      return { at: step.at, do: step.do, pid: step.pid, start: step.start, size: step.size };
    case 'exit':
      return { at: step.at, do: step.do, pid: step.pid };
    case 'oom':
      return { at: step.at, do: step.do };
  }
}

/** Fresh plain objects with exactly the keys of the Scenario type, steps still in file order. */
function normalize(p: ParsedScenario): Scenario {
  return {
    name: p.name,
    description: p.description,
    kernel: p.kernel,
    seed: p.seed,
    hz: p.hz,
    host: { ...p.host },
    processes: p.processes.map((proc) => ({
      pid: proc.pid,
      comm: proc.comm,
      oomScoreAdj: proc.oomScoreAdj,
      vmas: proc.vmas.map((v) => ({ ...v })),
      vms: proc.vms.map((vm) => ({
        name: vm.name,
        ipaBits: vm.ipaBits,
        memslots: vm.memslots.map((m) => ({ ...m })),
      })),
    })),
    subscribers: p.subscribers.map(subscriberOf),
    steps: p.steps.map(stepOf),
  };
}

function validate(data: unknown, file: string, src?: YamlSource): Scenario {
  const parsed = scenarioSchema.safeParse(data, { error: reasonFor });
  if (!parsed.success) throwFirst(file, parsed.error.issues.map(problemOf), src);
  const scenario = normalize(parsed.data);
  const host = hostProblems(scenario);
  if (host.length > 0) throwFirst(file, host, src);
  const rest = scenarioProblems(scenario);
  if (rest.length > 0) throwFirst(file, rest, src);
  scenario.steps.sort((a, b) => a.at - b.at);
  return scenario;
}

/**
 * Parse and validate a scenario file's text. `file` only names the file in errors.
 * Returns the normalized scenario: defaults filled in, sizes and addresses in bytes, steps sorted by
 * `at` (stably: steps at the same jiffy keep file order).
 * @throws ScenarioError for the first problem in document order
 */
export function parseScenario(text: string, file: string): Scenario {
  const src = readYaml(text, file);
  if (src.doc.contents === null) {
    throw new ScenarioError(
      file,
      '',
      'the file is empty: expected a mapping with name, host and processes',
      1,
    );
  }
  return validate(src.data, file, src);
}

/**
 * The same validation for a scenario that is already data (a JSON body, a generated scenario):
 * `origin` stands for the file name in errors, which report the first problem found.
 * @throws ScenarioError
 */
export function scenarioFromData(data: unknown, origin: string): Scenario {
  return validate(data, origin);
}
