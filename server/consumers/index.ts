// Public entry of consumer groups on a node (server/consumers): see README.md.
export { attachConsumerGroups, progressKey } from './consumer-groups.js'
export type { ConsumerGroupView, ConsumerGroups, ConsumerGroupsCounters, ConsumerGroupsOptions, ConsumerStreamPublish, ConsumerStreamsPort } from './consumer-groups.js'
export { groupHostTimingDefaults } from './group-host.js'
export type { ConsumerEnginePort, GroupHostTiming } from './group-host.js'
export { consumerKeySpace } from '../../data-plane/persistent/store/group-store.js'
export * as consumerServerLimits from './limits.js'
