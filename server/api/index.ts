// Public entry of the control API service (server/api). See README.md.
export { attachControlApi, inFlightRequestsMax } from './control-api.js'
export type { ControlApi, ControlApiOptions } from './control-api.js'
export type { ApiNodeInfo, ControlPlane } from './control-plane-port.js'
export type { ApiFailureReply, ApiReply, ApiSuccess } from './replies.js'
export { httpStatusOf } from './replies.js'
export { leaderPollMsDefault } from './system-events.js'
export { leaderTransferWaitMs } from './handlers-cluster.js'
