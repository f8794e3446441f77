// Request/reply with the Railgun client: a service answers on `greet.*`, a caller asks it twice
// (Promise and Observable style), then a request nobody answers fails at once.
//
//   npx tsx examples/request-reply.ts                 # server from $RAILGUN_SERVER or 127.0.0.1:4222
//   RAILGUN_SERVER=nats://127.0.0.1:4333 npx tsx examples/request-reply.ts
import { lastValueFrom } from 'rxjs'
import { connect, NoRespondersError } from '../client/index.js'

const server = process.env.RAILGUN_SERVER ?? 'nats://127.0.0.1:4222'
const client = await connect(server, { name: 'request-reply-example' })
client.status$.subscribe((status) => console.log(`[status] ${status.type}`))

// The service: one handler per request; the return value (or resolved Promise) is the reply.
// `group` makes several copies of this service share the load.
const service = client.respond(
  'greet.*',
  async (request) => {
    const name = request.subject.split('.')[1] ?? 'stranger'
    return JSON.stringify({ greeting: `hello, ${name}`, asked: request.string() })
  },
  { group: 'greeters' },
)
await client.flush() // the server now knows about the service

// The caller, Promise style.
const reply = await client.requestPromise('greet.ada', 'how are you?', { timeoutMs: 2_000 })
console.log('reply:', reply.json())

// The caller, Observable style: one value, then complete.
const again = await lastValueFrom(client.request('greet.grace', 'again'))
console.log('reply:', again.string())

// Nobody listens on this subject: the server says so at once (status 503).
try {
  await client.requestPromise('nobody.home', 'anyone?')
} catch (error) {
  if (error instanceof NoRespondersError) console.log(`no responders: ${error.code}`)
  else throw error
}

service.unsubscribe()
await client.drain()
