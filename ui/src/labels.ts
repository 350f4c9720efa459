/**
 * The labels a filter offers, from where the model defines them (the kernel's own lists: pure
 * modules, nothing else of the model comes with them), and where a finding comes from.
 */
export { ARCHES, KERNEL_VARIANTS } from '../../libs/kernel/src/model/scenario';
export { FINDING_KINDS } from '../../libs/kernel/src/kernel/sched/violation';
export { ORIGINS } from '../../libs/events/src/origin';
