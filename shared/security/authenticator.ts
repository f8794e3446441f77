// Who is on the other end of a client connection: the `Authenticator` turns the credentials of
// CONNECT (`user`/`pass`, or `auth_token`) into a `Principal`, or refuses them. Interfaces and
// the credential extraction only; the implementation over the cluster state is
// `cluster-authenticator.ts`.
import type { ConnectOptions } from '../protocol/index.js'

/** The default namespace a principal is bound to (DESIGN: a connection lives in one namespace). */
export const defaultPrincipalNamespace = 'default'

export interface Principal {
  /** The user name (from the password, or the user owning the token). */
  readonly user: string
  /** The namespace the connection's subjects live in. */
  readonly namespace: string
  /** How the principal proved itself; a token id is public (never the secret). */
  readonly via: { readonly kind: 'password' } | { readonly kind: 'token'; readonly tokenId: string }
}

export interface Credentials {
  readonly user?: string
  readonly pass?: string
  readonly token?: string
}

export const authenticationFailures = ['missing', 'badCredentials', 'expired', 'revoked', 'rateLimited'] as const
export type AuthenticationFailure = (typeof authenticationFailures)[number]

export type AuthenticationResult =
  | { readonly ok: true; readonly principal: Principal }
  /** `reason` is for logs and tests; the client only ever reads `Authorization Violation`. */
  | { readonly ok: false; readonly reason: AuthenticationFailure }

export interface Authenticator {
  /** `source` is the remote address (failed logins are limited per source). */
  authenticate(credentials: Credentials, source: string): Promise<AuthenticationResult>
}

/** The credentials a NATS CONNECT carries (`auth_token` wins over `user`/`pass`, as in nats-server). */
export function credentialsOf(options: ConnectOptions): Credentials {
  const token = typeof options.auth_token === 'string' && options.auth_token.length > 0 ? options.auth_token : undefined
  if (token !== undefined) return { token }
  return {
    ...(typeof options.user === 'string' ? { user: options.user } : {}),
    ...(typeof options.pass === 'string' ? { pass: options.pass } : {}),
  }
}
