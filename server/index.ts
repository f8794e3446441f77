// Public entry of the server assembly: the node, the CLI and the admin view.
export { startNode, defaultOpenStorage, nodeKeySpaces, drainTimeoutMs, notReadyHoldMsDefault } from './node.js'
export type { StartNodeOptions, RunningNode } from './node.js'
export { main, createProgram, registerServerCommand, commandRegistrars, resolveServerConfig, runServer, serverFlagNames } from './cli.js'
export type { CommandRegistrar, ServerFlags } from './cli.js'
export type { ServerStatsView } from './admin-http.js'
export { railgunVersion } from './version.js'
