// An in-memory server for virtual-time tests: the client talks to it through the Transport seam.
// It records every op the client sends and lets the test push server ops. Everything it
// delivers is scheduled (delay 0) on the rxjs scheduler, never re-entrantly inside `send`,
// as a real socket would.
import { of, throwError, asyncScheduler, type SchedulerLike } from 'rxjs'
import { RailgunClient } from '../../../client/client.js'
import { resolveOptions, type ClientOptions } from '../../../client/options.js'
import type { Dialer, Transport, TransportHandlers } from '../../../client/transport.js'
import type { MsgHeaders, ProtocolOp, ServerInfo } from '../../../shared/protocol/types.js'

export const mockInfo: ServerInfo = {
  server_id: 'mock',
  server_name: 'mock',
  version: '0.0.0',
  proto: 1,
  host: '127.0.0.1',
  port: 4222,
  headers: true,
  max_payload: 1024 * 1024,
}

export class MockTransport implements Transport {
  readonly sent: ProtocolOp[] = []
  closed = false
  pendingBytes = 0

  constructor(
    private readonly server: MockServer,
    private readonly handlers: TransportHandlers,
  ) {}

  send(op: ProtocolOp): void {
    if (this.closed) return
    this.sent.push(op)
    if (op.op === 'PING' && this.server.answerPings) this.deliver({ op: 'PONG' })
  }

  close(error?: Error): void {
    if (this.closed) return
    this.closed = true
    this.handlers.onClose(error)
  }

  /** Schedules server ops for delivery (same virtual time, after the current action). */
  deliver(...ops: ProtocolOp[]): void {
    this.server.scheduler.schedule(() => {
      if (!this.closed) this.handlers.onOps(ops)
    }, 0)
  }

  /** The server drops the connection. */
  drop(error = new Error('connection reset by mock')): void {
    this.close(error)
  }

  msg(sid: string, subject: string, data: string, replyTo?: string, headers?: MsgHeaders): void {
    const payload = new TextEncoder().encode(data)
    this.deliver(
      headers === undefined
        ? { op: 'MSG', subject, sid, replyTo, payload }
        : { op: 'HMSG', subject, sid, replyTo, headers, payload },
    )
  }

  /** Sent ops without the handshake and keep-alive noise, rendered as short strings. */
  wire(): string[] {
    return this.sent.filter((op) => op.op !== 'CONNECT' && op.op !== 'PING').map(render)
  }
}

export function render(op: ProtocolOp): string {
  switch (op.op) {
    case 'SUB':
      return `SUB ${op.subject}${op.queue === undefined ? '' : ` ${op.queue}`} ${op.sid}`
    case 'UNSUB':
      return `UNSUB ${op.sid}${op.maxMsgs === undefined ? '' : ` ${op.maxMsgs}`}`
    case 'PUB':
    case 'HPUB':
      return `${op.op} ${op.subject}${op.replyTo === undefined ? '' : ` ${op.replyTo}`} ${new TextDecoder().decode(op.payload)}`
    default:
      return op.op
  }
}

export class MockServer {
  readonly transports: MockTransport[] = []
  /** Dials to refuse before accepting again. */
  refuseDials = 0
  answerPings = true
  dials = 0

  constructor(readonly scheduler: SchedulerLike = asyncScheduler) {}

  readonly dialer: Dialer = (_address, handlers) => {
    this.dials++
    if (this.refuseDials > 0) {
      this.refuseDials--
      return throwError(() => new Error('connection refused by mock'))
    }
    const transport = new MockTransport(this, handlers)
    this.transports.push(transport)
    transport.deliver({ op: 'INFO', info: mockInfo })
    return of(transport)
  }

  get current(): MockTransport {
    const last = this.transports[this.transports.length - 1]
    if (last === undefined) throw new Error('no transport yet')
    return last
  }
}

/** A client wired to the mock; call inside `TestScheduler.run` so timers are virtual. */
export function mockClient(server: MockServer, options: ClientOptions = {}): RailgunClient {
  const client = new RailgunClient(
    [{ host: '127.0.0.1', port: 4222, url: 'nats://mock:4222' }],
    resolveOptions({ random: () => 0, ...options }),
    server.dialer,
  )
  client.start().catch(() => undefined)
  return client
}
