// Public entry of the node configuration: schema, defaults and the layered loader.
export { nodeConfigSchema, configSourceSchema, configDefaults, configBounds, sectionShapes, busyKeySpacesDefault } from './schema.js'
export type { NodeConfig, ConfigSource, SectionName } from './schema.js'
export { loadConfig, configWith, environmentNameOf, environmentAliases, splitList } from './load.js'
export type { LoadConfigOptions } from './load.js'
