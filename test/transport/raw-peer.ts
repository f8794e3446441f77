// A hand-driven peer for TCP transport tests: speaks the wire format directly so tests can
// send bad hellos, oversized frames or simply go silent.
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { encodeControl, decodeControl, peerProtocolVersion } from '../../shared/transport/control-messages.js'
import type { ControlMessage, Hello } from '../../shared/transport/control-messages.js'
import { FrameDecoder, encodeFrame } from '../../shared/transport/frame-codec.js'
import type { DecodedFrame } from '../../shared/transport/frame-codec.js'

export interface RawPeer {
  readonly socket: Socket
  readonly frames: DecodedFrame[]
  readonly closed: Promise<void>
  sendHello(hello: Hello): void
  /** The next control message from the transport (hello, reject, goodbye, heartbeat). */
  nextControl(timeoutMs?: number): Promise<ControlMessage>
  destroy(): void
}

export function helloFor(nodeId: string, change: Partial<Hello> = {}): Hello {
  return {
    protocolVersion: peerProtocolVersion,
    clusterName: 'test',
    nodeId,
    region: 'local',
    incarnation: `raw-${nodeId}`,
    credentials: new Uint8Array(0),
    ...change,
  }
}

export async function openRawPeer(port: number): Promise<RawPeer> {
  const socket = connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const frames: DecodedFrame[] = []
  const decoder = new FrameDecoder(1024 * 1024)
  let controlCursor = 0
  const listeners: (() => void)[] = []
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk, (frame) => frames.push(frame))
    for (const listener of listeners.splice(0)) listener()
  })
  socket.on('error', () => undefined)
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return {
    socket,
    frames,
    closed,
    sendHello: (hello) => socket.write(encodeFrame(0, encodeControl({ kind: 'hello', hello }))),
    async nextControl(timeoutMs = 3_000): Promise<ControlMessage> {
      const deadlineMs = performance.now() + timeoutMs
      while (true) {
        while (controlCursor < frames.length) {
          const frame = frames[controlCursor]!
          controlCursor += 1
          if (frame.channelByte !== 0) continue
          const decoded = decodeControl(frame.payload)
          if (!decoded.ok) throw new Error(decoded.error)
          return decoded.message
        }
        const remainingMs = deadlineMs - performance.now()
        if (remainingMs <= 0 || socket.destroyed) throw new Error('no control message arrived')
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(remainingMs, 50))
          listeners.push(() => {
            clearTimeout(timer)
            resolve()
          })
        })
      }
    },
    destroy: () => socket.destroy(),
  }
}
