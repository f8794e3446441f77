import t from 'tap'
import { MemoryHub } from '../../shared/transport/index.js'
import { runTransportConformance } from './conformance.js'

const hub = new MemoryHub()
runTransportConformance(t, {
  create: (nodeId, options) => hub.createTransport({ nodeId, frameBytesMax: options.frameBytesMax, reconnectDelayMs: 5 }),
  checkOpenHandles: true,
})
