import t from 'tap'
import { TcpTransport } from '../../shared/transport/index.js'
import { runTransportConformance } from './conformance.js'

runTransportConformance(t, {
  create: (nodeId, options) =>
    new TcpTransport({
      nodeId,
      clusterName: 'conformance',
      region: 'local',
      frameBytesMax: options.frameBytesMax,
      heartbeatIntervalMs: 50,
      deadAfterMs: 1_000,
      handshakeTimeoutMs: 1_000,
      backoff: { initialDelayMs: 10, maxDelayMs: 100, multiplier: 2, jitterRatio: 0.5 },
    }),
  checkOpenHandles: true,
})
