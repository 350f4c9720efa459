/** `mnsim scenarios [--json]`: the built-in scenarios and what each shows. */
import { listBuiltinScenarios } from '@mnsim/scenarios';
import { EXIT_OK } from '../errors.js';

export function scenariosCommand(opts: { json?: boolean }): number {
  const list = listBuiltinScenarios();
  if (opts.json) {
    process.stdout.write(
      JSON.stringify(list.map(({ name, description }) => ({ name, description }))) + '\n',
    );
    return EXIT_OK;
  }
  const width = Math.max(...list.map((s) => s.name.length));
  for (const s of list) {
    const words = s.description.replace(/\s+/g, ' ').trim();
    process.stdout.write(`${s.name.padEnd(width)}  ${words}\n`);
  }
  return EXIT_OK;
}
