import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARCHES, type Address } from '@mnsim/kernel';
import { AUDITOR_QUEUE, DEAD_LETTER_QUEUE, ORCHESTRATOR_QUEUE, queueOf } from '@mnsim/runtime';
import { runQueues, whoServes } from './cluster-watch.js';
import { CLUSTER_APPS, CLUSTER_PROCESSES, SERVED_QUEUES, serverOf } from './topology.js';

const ROOT = join(import.meta.dirname, '../../..');
const ADDRESSES: Address[] = ['task', 'mm', 'oom', ...ARCHES.map((a) => `kvm:${a}` as const)];

describe("the cluster's table", () => {
  it('serves every queue a message is sent to, each by one process', () => {
    const needed = [ORCHESTRATOR_QUEUE, AUDITOR_QUEUE, ...ADDRESSES.map(queueOf)];
    expect([...SERVED_QUEUES].sort()).toEqual(needed.sort());
    expect(new Set(SERVED_QUEUES).size).toBe(SERVED_QUEUES.length);
    // the workers fill the dead-letter queue and `mnsim dlq` reads it: no process serves it
    expect(serverOf(DEAD_LETTER_QUEUE)).toBeUndefined();
  });

  it('has an app per folder of apps/ but the cli, a process per arch for kvm', () => {
    const folders = readdirSync(join(ROOT, 'apps')).filter((f) => f !== 'cli');
    expect(CLUSTER_APPS.map((a) => a.name).sort()).toEqual(folders.sort());
    for (const app of CLUSTER_APPS) {
      expect(app.entry).toBe(`dist/apps/${app.name}/src/main.js`);
      expect(existsSync(join(ROOT, 'apps', app.name, 'src/main.ts')), app.name).toBe(true);
    }
    expect(CLUSTER_PROCESSES.map((p) => p.name)).toEqual([
      'api',
      'auditor',
      'mmu-notifier',
      'oom-killer',
      ...ARCHES.map((a) => `kvm-${a}`),
    ]);
    for (const p of CLUSTER_PROCESSES) expect(p.env).toEqual(p.arch ? { KVM_ARCH: p.arch } : {});
  });

  it("names who is missing in a user's words", () => {
    expect(Object.fromEntries(SERVED_QUEUES.map((q) => [q, whoServes(q)]))).toMatchObject({
      orchestrator: 'no orchestrator is alive (the api serves it)',
      task: 'no api is alive (it serves it)',
      auditor: 'no auditor worker is alive',
      mm: 'no mmu-notifier worker is alive',
      oom: 'no oom-killer worker is alive',
      'kvm-x86': 'no kvm worker with KVM_ARCH=x86 is alive',
      'kvm-powerpc-e500': 'no kvm worker with KVM_ARCH=powerpc-e500 is alive',
    });
  });

  it('a run needs the queues of every app and the kvm of its arches', () => {
    expect(runQueues(['x86', 'arm64', 'x86'])).toEqual([
      'orchestrator',
      'task',
      'auditor',
      'mm',
      'oom',
      'kvm-arm64',
      'kvm-x86',
    ]);
    expect(runQueues([])).toEqual(['orchestrator', 'task', 'auditor', 'mm', 'oom']);
  });
});
