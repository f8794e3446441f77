// The linearizability checker: one public entry for test/lincheck.
export { checkLinearizable } from './checker.js'
export { kvModel } from './kv-model.js'
export type { KvInput, KvOutput, KvState } from './kv-model.js'
export type { CheckBudget, CheckResult, History, IllegalResult, Model, Operation } from './types.js'
