// Subject and queue-name validation. Pure: no node:* imports.
//
// A subject is tokens joined by '.'; every token is non-empty and holds no whitespace or control
// character. Wildcards are whole tokens only: `*` (exactly one token), `>` (one or more trailing
// tokens, last token only) and `#` (AMQP: zero or more tokens, anywhere). A wildcard character
// inside a longer token (`a*b`, `x>`) is a literal, as in nats-server.

/** Named limits for subjects and queue names (UTF-8 bytes). */
export const subjectLimits = {
  /** Longest subject; leaves room for verb, sid, reply and sizes in a 4 KiB control line. */
  subjectBytesMax: 1024,
  /** Most tokens in one subject. */
  subjectTokensMax: 128,
  /** Longest queue group name. */
  queueNameBytesMax: 256,
} as const

/** The NATS error texts a server sends for a rejected subject. */
export const subjectErrorTexts = {
  invalidSubject: 'Invalid Subject',
  invalidPublishSubject: 'Invalid Publish Subject',
} as const

export const wildcardOneToken = '*'
export const wildcardTail = '>'
export const wildcardZeroOrMore = '#'

/** Validation outcome: an expected failure is a value carrying the reason, never a throw. */
export type SubjectCheck = { readonly valid: true } | { readonly valid: false; readonly reason: string }

const valid: SubjectCheck = Object.freeze({ valid: true })

function invalid(reason: string): SubjectCheck {
  return { valid: false, reason }
}

/** UTF-8 length of a JS string without allocating (lone surrogates count as 3, as encoded). */
export function utf8Bytes(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

/** Index of the first whitespace or control character (incl. DEL and U+0085/U+00A0), or -1. */
function badCharacterAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c <= 0x20 || c === 0x7f || c === 0x85 || c === 0xa0 || (c >= 0x80 && c <= 0x9f)) return i
    if (c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029) return i
    if (c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff) return i
  }
  return -1
}

function describeCharacter(text: string, at: number): string {
  return `U+${text.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0')} at index ${at}`
}

type Kind = 'publish' | 'subscribe'

function check(subject: string, kind: Kind): SubjectCheck {
  const what = kind === 'publish' ? 'publish subject' : 'subject'
  if (typeof subject !== 'string' || subject.length === 0) return invalid(`${what} is empty`)
  const bytes = utf8Bytes(subject)
  if (bytes > subjectLimits.subjectBytesMax) {
    return invalid(`${what} is ${bytes} bytes, more than ${subjectLimits.subjectBytesMax}`)
  }
  const bad = badCharacterAt(subject)
  if (bad >= 0) return invalid(`${what} ${JSON.stringify(subject)} contains whitespace or a control character (${describeCharacter(subject, bad)})`)
  const tokens = subject.split('.')
  if (tokens.length > subjectLimits.subjectTokensMax) {
    return invalid(`${what} has ${tokens.length} tokens, more than ${subjectLimits.subjectTokensMax}`)
  }
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string
    if (token.length === 0) {
      return invalid(`${what} ${JSON.stringify(subject)} has an empty token (leading, trailing or double '.')`)
    }
    if (token === wildcardOneToken || token === wildcardTail || token === wildcardZeroOrMore) {
      if (kind === 'publish') {
        return invalid(`publish subject ${JSON.stringify(subject)} contains the wildcard '${token}'; publish to a concrete subject`)
      }
      if (token === wildcardTail && i !== tokens.length - 1) {
        return invalid(`subject ${JSON.stringify(subject)} has '>' before its last token; '>' may only end a subject`)
      }
    }
  }
  return valid
}

/** A subject a message may be published to: no wildcards. */
export function checkPublishSubject(subject: string): SubjectCheck {
  return check(subject, 'publish')
}

/** A subject a subscription may name: wildcards `*`, trailing `>` and `#` allowed. */
export function checkSubscribeSubject(subject: string): SubjectCheck {
  return check(subject, 'subscribe')
}

/** A queue group name: non-empty, no whitespace or control characters, bounded length. */
export function checkQueueName(queue: string): SubjectCheck {
  if (typeof queue !== 'string' || queue.length === 0) return invalid('queue name is empty')
  const bytes = utf8Bytes(queue)
  if (bytes > subjectLimits.queueNameBytesMax) {
    return invalid(`queue name is ${bytes} bytes, more than ${subjectLimits.queueNameBytesMax}`)
  }
  const bad = badCharacterAt(queue)
  if (bad >= 0) return invalid(`queue name ${JSON.stringify(queue)} contains whitespace or a control character (${describeCharacter(queue, bad)})`)
  return valid
}

export function isValidPublishSubject(subject: string): boolean {
  return checkPublishSubject(subject).valid
}

export function isValidSubscribeSubject(subject: string): boolean {
  return checkSubscribeSubject(subject).valid
}

/** True when the (valid) subscribe subject holds any wildcard token. */
export function hasWildcard(subject: string): boolean {
  for (const token of subject.split('.')) {
    if (token === wildcardOneToken || token === wildcardTail || token === wildcardZeroOrMore) return true
  }
  return false
}
