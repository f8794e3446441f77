// Bearer tokens: `rgt_<id>_<secret>`, the secret 32 random bytes in hex. The id is public (it
// names the token in the admin API, in `revokeToken`, in logs); the state machine stores only
// `sha256:<hex>` of the whole token. A fast hash is enough here because the secret has 256 bits
// of entropy (a slow KDF protects guessable passwords, not random keys); the comparison is
// constant-time anyway.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

export const tokenPrefix = 'rgt_'

export const tokenLimits = {
  secretBytes: 32,
  /** Token ids follow the cluster's plain-name rule: `[A-Za-z0-9_-]{1,64}`. */
  idBytesMax: 64,
  /** Generated ids: 8 random bytes in hex. */
  generatedIdBytes: 8,
} as const

const idPattern = /^[A-Za-z0-9_-]{1,64}$/
const secretPattern = new RegExp(`^[0-9a-f]{${tokenLimits.secretBytes * 2}}$`)
const hashPrefix = 'sha256:'

export interface NewToken {
  readonly id: string
  /** Shown once to the user; never stored or logged. */
  readonly token: string
  /** What `addToken.hash` carries. */
  readonly hash: string
}

export function hashToken(token: string): string {
  return `${hashPrefix}${createHash('sha256').update(token, 'utf8').digest('hex')}`
}

/** A fresh token; `id` defaults to 16 random hex characters. */
export function createToken(id?: string): NewToken {
  const tokenId = id ?? randomBytes(tokenLimits.generatedIdBytes).toString('hex')
  if (!idPattern.test(tokenId)) throw new RangeError(`token id must match ${idPattern.source}`)
  const token = `${tokenPrefix}${tokenId}_${randomBytes(tokenLimits.secretBytes).toString('hex')}`
  return { id: tokenId, token, hash: hashToken(token) }
}

/** The id of a well-formed token (the secret is the part after the last `_`); undefined otherwise. */
export function parseToken(token: string): { readonly id: string } | undefined {
  if (!token.startsWith(tokenPrefix)) return undefined
  const body = token.slice(tokenPrefix.length)
  const split = body.lastIndexOf('_')
  if (split <= 0) return undefined
  const id = body.slice(0, split)
  const secret = body.slice(split + 1)
  if (!idPattern.test(id) || !secretPattern.test(secret)) return undefined
  return { id }
}

/** Whether `token` hashes to `storedHash` (constant-time over the digest). */
export function tokenMatches(token: string, storedHash: string): boolean {
  if (!storedHash.startsWith(hashPrefix)) return false
  const expected = Buffer.from(storedHash.slice(hashPrefix.length), 'hex')
  const actual = createHash('sha256').update(token, 'utf8').digest()
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}
