// Public entry of ES routing: the subscription index and the fan-out choice.
export { SubscriptionIndex, subscriptionIndexLimits } from './subscription-index.js'
export type { IndexedSubscription, SubscriptionMatch, SubscriptionIndexOptions, MatchOptions } from './subscription-index.js'
export { chooseDeliveries, excludePublisher, excludeAny, pickIndex } from './fanout.js'
export type { FanoutOptions, RandomSource } from './fanout.js'
