// Public entry of the consumer-group core: the group controller (pure state machine) and the
// progress state it persists and replicates. See README.md.
export { GroupController } from './group-controller.js'
export type { GroupControllerOptions } from './group-controller.js'
export { ProgressState } from './progress-state.js'
export type { OutstandingIndex, ProgressDirt, ProgressDot, ProgressEntry, ProgressMergeOutcome, ProgressMeta, ProgressSnapshot } from './progress-state.js'
export * from './types.js'
export * as consumerLimits from './limits.js'
