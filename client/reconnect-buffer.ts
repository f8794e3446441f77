// Publishes made while the connection is down wait here, bounded by bytes, and are written
// after the resubscribe on the next connection (dropped if the client closes first).
import type { ProtocolOp } from '../shared/protocol/types.js'
import { OutboundBufferFullError } from './errors.js'

/** Bytes charged for a control line we have not encoded yet (verb, sizes, CRLFs). */
const controlLineBytesEstimate = 64
/** Worst-case UTF-8 bytes per UTF-16 code unit of a subject. */
const utf8BytesPerCodeUnitMax = 3

export class ReconnectBuffer {
  private ops: ProtocolOp[] = []
  private bytes = 0

  constructor(private readonly bytesMax: number) {}

  /** Holds `op`; throws OutboundBufferFullError when it would pass `bytesMax`. */
  push(op: ProtocolOp): void {
    const cost = estimateBytes(op)
    if (this.bytes + cost > this.bytesMax) throw new OutboundBufferFullError('reconnect buffer', this.bytesMax)
    this.ops.push(op)
    this.bytes += cost
  }

  /** Everything held, oldest first; the buffer is empty afterwards. */
  take(): ProtocolOp[] {
    const ops = this.ops
    this.ops = []
    this.bytes = 0
    return ops
  }
}

function estimateBytes(op: ProtocolOp): number {
  if (op.op !== 'PUB' && op.op !== 'HPUB') return controlLineBytesEstimate
  const replyBytes = op.replyTo === undefined ? 0 : op.replyTo.length * utf8BytesPerCodeUnitMax
  let headerBytes = 0
  if (op.op === 'HPUB') for (const [k, v] of op.headers.entries) headerBytes += (k.length + v.length) * utf8BytesPerCodeUnitMax + 4
  return op.payload.length + (op.subject.length * utf8BytesPerCodeUnitMax) + replyBytes + headerBytes + controlLineBytesEstimate
}
