/**
 * Where a run and its findings come from: a simulation, whose violations are a projection of its
 * event log, or a real kernel log read by `mnsim triage --record`, which has no event log. (A
 * module of its own, with no imports: the dashboard takes it as it is.)
 */
export const ORIGINS = ['simulated', 'observed'] as const;
export type Origin = (typeof ORIGINS)[number];
