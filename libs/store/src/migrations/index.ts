import { InitialSchema1795478400000 } from './1795478400000-initial-schema.js';
import { SignatureRollup1795564800000 } from './1795564800000-signature-rollup.js';
import { RunningRunsIndex1795651200000 } from './1795651200000-running-runs-index.js';
import { LogFormat21795737600000 } from './1795737600000-log-format-2.js';
import { FindingKinds1795824000000 } from './1795824000000-finding-kinds.js';
import { ObservedFindings1795910400000 } from './1795910400000-observed-findings.js';

/** Every migration, oldest first. Append only; never edit one that has shipped. */
export const MIGRATIONS = [
  InitialSchema1795478400000,
  SignatureRollup1795564800000,
  RunningRunsIndex1795651200000,
  LogFormat21795737600000,
  FindingKinds1795824000000,
  ObservedFindings1795910400000,
];
