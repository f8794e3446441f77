// Messages on the control channel (channel byte 0): the handshake (`hello`), its refusal
// (`reject`), liveness (`heartbeat`) and an orderly close with a reason (`goodbye`).
// Pure: encode/decode with bounds checks; decoding failures are typed values.
import { BinaryReader, BinaryReadError, BinaryWriter } from './binary.js'

/** Protocol version of the peer wire format; a mismatch refuses the handshake. */
export const peerProtocolVersion = 1
/** A hello larger than this is refused before decoding (it is the first, unauthenticated frame). */
export const helloBytesMax = 4096

export interface Hello {
  readonly protocolVersion: number
  readonly clusterName: string
  readonly nodeId: string
  readonly region: string
  /** Random per transport start: tells a restarted peer from a concurrent dial of the same one. */
  readonly incarnation: string
  /** Opaque token placeholder for the security work (mTLS / tokens replace it). */
  readonly credentials: Uint8Array
}

export const rejectReasons = [
  'wrongCluster',
  'versionMismatch',
  'duplicateId',
  'badCredentials',
  'notReady',
  'unexpectedPeer',
  'duplicateConnection',
  'malformed',
] as const
export type RejectReason = (typeof rejectReasons)[number]

export const controlKinds = { hello: 1, reject: 2, heartbeat: 3, goodbye: 4 } as const

export type ControlMessage =
  | { readonly kind: 'hello'; readonly hello: Hello }
  | { readonly kind: 'reject'; readonly reason: RejectReason; readonly detail: string }
  | { readonly kind: 'heartbeat' }
  | { readonly kind: 'goodbye'; readonly detail: string }

export type ControlDecodeResult =
  | { readonly ok: true; readonly message: ControlMessage }
  | { readonly ok: false; readonly error: string }

/** Details travel truncated: a reason is for humans and logs, not a data channel. */
const detailCharsMax = 512

export function encodeControl(message: ControlMessage): Uint8Array {
  const writer = new BinaryWriter().u8(controlKinds[message.kind])
  switch (message.kind) {
    case 'hello': {
      const hello = message.hello
      writer
        .u16(hello.protocolVersion)
        .string16(hello.clusterName)
        .string16(hello.nodeId)
        .string16(hello.region)
        .string16(hello.incarnation)
        .bytes16(hello.credentials)
      break
    }
    case 'reject':
      writer.u8(rejectReasons.indexOf(message.reason)).string16(message.detail.slice(0, detailCharsMax))
      break
    case 'heartbeat':
      break
    case 'goodbye':
      writer.string16(message.detail.slice(0, detailCharsMax))
      break
  }
  return writer.finish()
}

export function decodeControl(bytes: Uint8Array): ControlDecodeResult {
  try {
    return { ok: true, message: readControl(new BinaryReader(bytes)) }
  } catch (error) {
    if (error instanceof BinaryReadError) return { ok: false, error: `malformed control message: ${error.message}` }
    throw error
  }
}

function readControl(reader: BinaryReader): ControlMessage {
  const kindByte = reader.u8('control kind')
  let message: ControlMessage
  switch (kindByte) {
    case controlKinds.hello:
      message = {
        kind: 'hello',
        hello: {
          protocolVersion: reader.u16('protocol version'),
          clusterName: reader.string16('cluster name'),
          nodeId: reader.string16('node id'),
          region: reader.string16('region'),
          incarnation: reader.string16('incarnation'),
          credentials: reader.bytes16('credentials'),
        },
      }
      break
    case controlKinds.reject: {
      const reasonIndex = reader.u8('reject reason')
      const reason = rejectReasons[reasonIndex]
      if (reason === undefined) throw new BinaryReadError(`unknown reject reason ${reasonIndex}`, 1)
      message = { kind: 'reject', reason, detail: reader.string16('reject detail') }
      break
    }
    case controlKinds.heartbeat:
      message = { kind: 'heartbeat' }
      break
    case controlKinds.goodbye:
      message = { kind: 'goodbye', detail: reader.string16('goodbye detail') }
      break
    default:
      throw new BinaryReadError(`unknown control kind ${kindByte}`, 0)
  }
  reader.end(message.kind)
  return message
}
