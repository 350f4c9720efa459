import { MnsimError } from '@mnsim/errors';

/** A configuration value the process cannot start with; its message names the variable. */
export class ConfigError extends MnsimError {
  constructor(message: string) {
    super(message, 'config');
  }
}
