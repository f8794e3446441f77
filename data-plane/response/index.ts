// Public entry of response streams (RS).
export { ResponseTracker } from './tracker.js'
export type { ResponseStream, OpenResult, ResponseTrackerOptions } from './tracker.js'
export { DeadlineHeap } from './deadline-heap.js'
export type { HeapItem } from './deadline-heap.js'
export { requestTimeoutHeader, requestTimeoutMsMax, requestTimeoutFromHeader } from './timeout-header.js'
