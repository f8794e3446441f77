// Public entry of the control API contract (shared/api): subjects, request and response schemas,
// defaults. Imported by server/api (service), client/ (library) and the CLI. See docs/api.md.
export * from './subjects.js'
export * from './requests.js'
export * from './responses.js'
export * from './defaults.js'
export * from './stream-publish.js'
export * from './kv-crdt-wire.js'
