// One client subscription (SUB), as the server holds it.
import type { ClientConnection } from './client-connection.js'

export class Subscription {
  readonly connection: ClientConnection
  readonly sid: string
  /** The sid as bytes, for writing MSG lines without re-encoding. */
  readonly sidBytes: Buffer
  readonly subject: string
  readonly queue: string | undefined
  /** Messages delivered so far (for UNSUB <sid> <max>). */
  delivered = 0
  /** Auto-unsubscribe after this many deliveries; undefined = no limit. */
  maxMsgs: number | undefined = undefined
  /** False once removed from the index; a removed subscription is never delivered to. */
  active = true

  constructor(connection: ClientConnection, sid: string, subject: string, queue: string | undefined) {
    this.connection = connection
    this.sid = sid
    this.sidBytes = Buffer.from(sid, 'utf8')
    this.subject = subject
    this.queue = queue
  }
}
