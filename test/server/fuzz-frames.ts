// Seeded frame generator for the live fuzz test: valid NATS client frames, and mutations of them
// (flipped, dropped and inserted bytes, truncation, wrong sizes, garbage verbs, overlong lines).

/** mulberry32: small, fast, seeded. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state)
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296
  }
}

type Random = () => number

const literalTokens = ['a', 'b', 'c', 'orders', 'eu', 'us', 'x1', 'ünï', '_INBOX', 'q']
const wildTokens = ['*', '>', '#']

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T
const integer = (random: Random, below: number): number => Math.floor(random() * below)

function literalSubject(random: Random): string {
  const length = 1 + integer(random, 4)
  return Array.from({ length }, () => pick(random, literalTokens)).join('.')
}

function patternSubject(random: Random): string {
  const length = 1 + integer(random, 4)
  const tokens = Array.from({ length }, () => (random() < 0.3 ? pick(random, wildTokens) : pick(random, literalTokens)))
  return tokens.join('.')
}

function payload(random: Random, maxPayloadBytes: number): Buffer {
  const roll = random()
  const length = roll < 0.01 ? integer(random, maxPayloadBytes) : roll < 0.1 ? 0 : integer(random, 160)
  const bytes = Buffer.allocUnsafe(length)
  for (let index = 0; index < length; index += 1) bytes[index] = random() < 0.05 ? pick(random, [13, 10]) : integer(random, 256)
  return bytes
}

function verb(random: Random, name: string): string {
  return random() < 0.2 ? name.toLowerCase() : name
}

function validFrame(random: Random, maxPayloadBytes: number): Buffer {
  const roll = random()
  if (roll < 0.35) {
    const body = payload(random, maxPayloadBytes)
    const reply = random() < 0.3 ? ` ${literalSubject(random)}` : ''
    return Buffer.concat([Buffer.from(`${verb(random, 'PUB')} ${literalSubject(random)}${reply} ${body.length}\r\n`), body, Buffer.from('\r\n')])
  }
  if (roll < 0.55) {
    const entries = Array.from({ length: integer(random, 3) }, () => `${pick(random, ['X-A', 'k', 'Rg-Timeout-Ms'])}: ${integer(random, 500)}\r\n`)
    const block = Buffer.from(`NATS/1.0${random() < 0.1 ? ' 503' : ''}\r\n${entries.join('')}\r\n`)
    const body = payload(random, maxPayloadBytes - block.length)
    const reply = random() < 0.4 ? ` ${literalSubject(random)}` : ''
    return Buffer.concat([
      Buffer.from(`${verb(random, 'HPUB')} ${literalSubject(random)}${reply} ${block.length} ${block.length + body.length}\r\n`),
      block,
      body,
      Buffer.from('\r\n'),
    ])
  }
  if (roll < 0.75) {
    const queue = random() < 0.3 ? ` ${pick(random, ['g1', 'g2'])}` : ''
    return Buffer.from(`${verb(random, 'SUB')} ${patternSubject(random)}${queue} ${1 + integer(random, 40)}\r\n`)
  }
  if (roll < 0.88) {
    const max = random() < 0.5 ? ` ${integer(random, 5)}` : ''
    return Buffer.from(`${verb(random, 'UNSUB')} ${1 + integer(random, 40)}${max}\r\n`)
  }
  if (roll < 0.95) return Buffer.from(`${verb(random, 'PONG')}\r\n`)
  return Buffer.from(`${verb(random, 'CONNECT')} {"verbose":${random() < 0.2},"headers":true,"no_responders":${random() < 0.5}}\r\n`)
}

function mutate(random: Random, frame: Buffer): Buffer {
  const bytes = Buffer.from(frame)
  const position = integer(random, Math.max(1, bytes.length))
  switch (integer(random, 9)) {
    case 0:
      if (bytes.length > 0) bytes[position] = integer(random, 256)
      return bytes
    case 1:
      return Buffer.concat([bytes.subarray(0, position), bytes.subarray(position + 1)])
    case 2:
      return Buffer.concat([bytes.subarray(0, position), Buffer.from([integer(random, 256)]), bytes.subarray(position)])
    case 3:
      return bytes.subarray(0, position)
    case 4:
      return Buffer.from(bytes.toString('latin1').replace(/ (\d+)\r\n/, () => ` ${pick(random, ['-1', '99999999', '1e3', '', '0x10', String(integer(random, 1000))])}\r\n`), 'latin1')
    case 5:
      return Buffer.from(`${pick(random, ['FOO', 'MSG', 'INFO {}', '+OK', '-ERR x', 'PUBX', 'SU', '\t', ''])} ${literalSubject(random)}\r\n`)
    case 6:
      return Buffer.from(`SUB ${'a.'.repeat(integer(random, 5000))}b 1\r\n`)
    case 7:
      return Buffer.concat([bytes, bytes])
    default:
      return Buffer.from(Array.from({ length: integer(random, 64) }, () => integer(random, 256)))
  }
}

/** One connection's bytes: CONNECT, then `frames` frames, each mutated with `mutationRate`. */
export function generateConnectionStream(
  random: Random,
  frames: number,
  mutationRate: number,
  limits: { readonly maxPayloadBytes: number },
): { readonly bytes: Buffer; readonly frames: number } {
  const parts: Buffer[] = [Buffer.from('CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n')]
  for (let index = 0; index < frames; index += 1) {
    const frame = validFrame(random, limits.maxPayloadBytes)
    parts.push(random() < mutationRate ? mutate(random, frame) : frame)
  }
  return { bytes: Buffer.concat(parts), frames: frames + 1 }
}
