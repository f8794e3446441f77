// The client verbs of the `railgun` command: pub, sub, req, reply. Each speaks the NATS protocol
// through the Railgun client, so they work against Railgun and any NATS server.
//
//   railgun pub <subject> [data] [--header k:v]... [--count N]      (stdin when no data)
//   railgun sub <subject> [--group G] [--count N] [--raw]
//   railgun req <subject> [data] [--timeout-ms MS] [--header k:v]... (exit 1 on no responders / timeout)
//   railgun reply <subject> [response] [--group G]                   (echoes when no response)
//
// Every verb takes `--server URL` (default $RAILGUN_SERVER, else nats://127.0.0.1:4222).
import { InvalidArgumentError, type Command } from 'commander'
import { clientOptionsOf, connectionFlags } from './admin-verbs.js'
import { untilSignal } from './signals.js'
import type { ConnectionFlags } from './admin-verbs.js'
import {
  connect,
  InvalidArgumentError as ClientArgumentError,
  NoRespondersError,
  RailgunClientError,
  RequestTimeoutError,
  type Message,
  type RailgunClient,
} from '../../client/index.js'

export const defaultServerUrl = 'nats://127.0.0.1:4222'
/** Largest stdin payload `pub` reads (the server's max_payload still applies). */
export const stdinBytesMax = 64 * 1024 * 1024

type ServerFlag = ConnectionFlags
interface PubFlags extends ServerFlag {
  readonly header: string[]
  readonly count: number
}
interface SubFlags extends ServerFlag {
  readonly group?: string
  readonly count?: number
  readonly raw?: boolean
}
interface ReqFlags extends ServerFlag {
  readonly header: string[]
  readonly timeoutMs: number
}
interface ReplyFlags extends ServerFlag {
  readonly group?: string
}

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new InvalidArgumentError('expected a positive integer')
  return Number(value)
}

function collectHeader(value: string, previous: string[]): string[] {
  const colon = value.indexOf(':')
  if (colon <= 0) throw new InvalidArgumentError(`expected key:value, got "${value}"`)
  return [...previous, value]
}

function headerPairs(flags: readonly string[]): Array<readonly [string, string]> {
  return flags.map((flag) => {
    const colon = flag.indexOf(':')
    return [flag.slice(0, colon).trim(), flag.slice(colon + 1).trim()] as const
  })
}

/** `--server` plus credentials and TLS, shared with the admin verbs. */
function serverOption(command: Command): Command {
  return connectionFlags(command)
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of process.stdin) {
    const buffer = chunk as Buffer
    bytes += buffer.length
    if (bytes > stdinBytesMax) throw new ClientArgumentError(`stdin is larger than ${stdinBytesMax} bytes`)
    chunks.push(buffer)
  }
  return Buffer.concat(chunks)
}

function fail(message: string): void {
  process.stderr.write(`railgun: ${message}\n`)
  process.exitCode = 1
}

function describe(error: unknown): string {
  if (error instanceof NoRespondersError) return `no responders on "${error.subject}"`
  if (error instanceof RequestTimeoutError) return `request on "${error.subject}" timed out after ${error.timeoutMs} ms`
  if (error instanceof RailgunClientError) return `${error.message} (${error.code})`
  return error instanceof Error ? error.message : String(error)
}

/**
 * Runs `body` with a connected client; errors print one line and set exit code 1. One-shot verbs
 * (pub, req) fail fast; long-running ones (sub, reply) reconnect with the client's defaults.
 */
async function withClient(
  flags: ConnectionFlags,
  name: string,
  reconnect: boolean,
  body: (client: RailgunClient) => Promise<void>,
): Promise<void> {
  let client: RailgunClient | undefined
  try {
    client = await connect(flags.server, { ...clientOptionsOf(flags, name), reconnect: { enabled: reconnect } })
    await body(client)
  } catch (error) {
    fail(describe(error))
  } finally {
    await client?.close()
  }
}

function formatMessage(message: Message, index: number, raw: boolean): string {
  if (raw) return `${message.string()}\n`
  let text = `[#${index}] Received on "${message.subject}"${message.replyTo === undefined ? '' : ` with reply "${message.replyTo}"`}\n`
  if (message.headers !== undefined) {
    if (message.headers.status !== undefined) text += `NATS/1.0 ${message.headers.status} ${message.headers.description ?? ''}`.trimEnd() + '\n'
    for (const [key, value] of message.headers.entries) text += `${key}: ${value}\n`
  }
  return `${text}${message.string()}\n\n`
}

export function registerClientCommands(program: Command): void {
  serverOption(program.command('pub <subject> [data]'))
    .description('publish a message (reads stdin when no data is given)')
    .option('--header <key:value>', 'add a header (repeatable)', collectHeader, [])
    .option('--count <n>', 'publish the message n times', positiveInteger, 1)
    .action(async (subject: string, data: string | undefined, flags: PubFlags) => {
      const payload = data ?? (await readStdin())
      await withClient(flags, 'railgun-pub', false, async (client) => {
        const headers = flags.header.length > 0 ? headerPairs(flags.header) : undefined
        for (let i = 0; i < flags.count; i++) {
          client.publish(subject, payload, headers === undefined ? undefined : { headers })
          // Stay far below the outbound bound on large counts.
          if (i % 10_000 === 9_999) await client.flush()
        }
        await client.flush()
        process.stderr.write(`published ${flags.count} message${flags.count === 1 ? '' : 's'} to "${subject}"\n`)
      })
    })

  serverOption(program.command('sub <subject>'))
    .description('print messages on a subject (wildcards * and > allowed)')
    .option('--group <group>', 'join a queue group')
    .option('--count <n>', 'exit after n messages', positiveInteger)
    .option('--raw', 'print only the payloads')
    .action(async (subject: string, flags: SubFlags) => {
      await withClient(flags, 'railgun-sub', true, async (client) => {
        const signal = untilSignal()
        let received = 0
        const done = new Promise<void>((resolve, reject) => {
          const options = { ...(flags.group === undefined ? {} : { group: flags.group }), ...(flags.count === undefined ? {} : { max: flags.count }) }
          const subscription = client.subscribe(subject, options).subscribe({
            next: (message) => {
              received++
              process.stdout.write(formatMessage(message, received, flags.raw === true))
            },
            error: reject,
            complete: resolve,
          })
          void signal.signalled.then(() => {
            subscription.unsubscribe()
            resolve()
          })
        })
        await client.flush()
        process.stderr.write(`listening on "${subject}"${flags.group === undefined ? '' : ` (group ${flags.group})`}\n`)
        try {
          await done
        } finally {
          signal.dispose()
        }
      })
    })

  serverOption(program.command('req <subject> [data]'))
    .description('send a request and print the reply (exit 1 on no responders or timeout)')
    .option('--timeout-ms <ms>', 'how long to wait for the reply', positiveInteger, 5_000)
    .option('--header <key:value>', 'add a header (repeatable)', collectHeader, [])
    .action(async (subject: string, data: string | undefined, flags: ReqFlags) => {
      await withClient(flags, 'railgun-req', false, async (client) => {
        const headers = flags.header.length > 0 ? headerPairs(flags.header) : undefined
        const reply = await client.requestPromise(subject, data ?? '', {
          timeoutMs: flags.timeoutMs,
          ...(headers === undefined ? {} : { headers }),
        })
        process.stdout.write(`${reply.string()}\n`)
      })
    })

  serverOption(program.command('reply <subject> [response]'))
    .description('answer every request with the response text (echo the request when none is given)')
    .option('--group <group>', 'join a queue group (load-balance with other repliers)')
    .action(async (subject: string, response: string | undefined, flags: ReplyFlags) => {
      await withClient(flags, 'railgun-reply', true, async (client) => {
        const signal = untilSignal()
        let answered = 0
        const subscription = client.respond(
          subject,
          (message) => {
            answered++
            return response ?? message.data
          },
          flags.group === undefined ? {} : { group: flags.group },
        )
        // The client closes for good only when reconnecting gave up: that is a failure.
        const closed = new Promise<void>((resolve, reject) => {
          client.status$.subscribe((status) => {
            if (status.type === 'closed') {
              if (status.error === undefined) resolve()
              else reject(status.error)
            }
          })
        })
        await client.flush()
        process.stderr.write(`replying on "${subject}"${flags.group === undefined ? '' : ` (group ${flags.group})`}\n`)
        await Promise.race([signal.signalled, closed])
        signal.dispose()
        subscription.unsubscribe()
        await client.drain()
        process.stderr.write(`answered ${answered} request${answered === 1 ? '' : 's'}\n`)
      })
    })
}
