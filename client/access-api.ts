// The identity verbs of the control API from the client (docs/security.md): users, bearer
// tokens and roles (`$RG.API.USER.*`, `TOKEN.*`, `ROLE.*`; all need `admin` on `*/*`). A
// password is sent in the request body (use TLS) and hashed by the server; `tokens.create`
// resolves with the token's secret, which the server answers this once and never again.
import { roleViewSchema, tokenCreatedSchema, tokenViewSchema, userViewSchema } from '../shared/api/index.js'
import type { ApiRequest, MutationResponse, RoleView, TokenCreated, TokenView, UserView } from '../shared/api/index.js'
import { callApi, checked } from './control-api.js'
import type { ApiCallOptions, ApiTransport, ReadOptions } from './control-api.js'

const staleOf = (options: ReadOptions): { stale?: boolean } => (options.stale === true ? { stale: true } : {})
const timeoutOf = (options: ApiCallOptions): ApiCallOptions => (options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs })

export class UsersApi {
  constructor(private readonly transport: ApiTransport) {}

  /** Creates a user (password required), confirms it (`unchanged`), or with `update: true` changes its roles or password. */
  async ensure(request: ApiRequest<'USER.ENSURE'>, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'USER.ENSURE', request, options)) as MutationResponse
  }

  async list(options: ReadOptions = {}): Promise<UserView[]> {
    return checked('USER.LIST', userViewSchema.array(), (await callApi(this.transport, 'USER.LIST', staleOf(options), timeoutOf(options))).users)
  }

  /** Removes the user and its tokens. */
  async remove(name: string, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'USER.DELETE', { name }, options)) as MutationResponse
  }
}

export class TokensApi {
  constructor(private readonly transport: ApiTransport) {}

  /** A new token for `user`; `token` in the answer is the secret, shown once. `expiresInMs` absent or 0 = never. */
  async create(request: ApiRequest<'TOKEN.CREATE'>, options: ApiCallOptions = {}): Promise<TokenCreated> {
    return checked('TOKEN.CREATE', tokenCreatedSchema, await callApi(this.transport, 'TOKEN.CREATE', request, options))
  }

  async list(filter: { user?: string } = {}, options: ReadOptions = {}): Promise<TokenView[]> {
    return checked('TOKEN.LIST', tokenViewSchema.array(), (await callApi(this.transport, 'TOKEN.LIST', { ...filter, ...staleOf(options) }, timeoutOf(options))).tokens)
  }

  /** Refused at the next login on every node from the moment the change applies there. */
  async revoke(id: string, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'TOKEN.REVOKE', { id }, options)) as MutationResponse
  }
}

export class RolesApi {
  constructor(private readonly transport: ApiTransport) {}

  /** Creates a role, confirms it, or with `update: true` replaces its grants (live connections follow at once). */
  async ensure(request: ApiRequest<'ROLE.ENSURE'>, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'ROLE.ENSURE', request, options)) as MutationResponse
  }

  async list(options: ReadOptions = {}): Promise<RoleView[]> {
    return checked('ROLE.LIST', roleViewSchema.array(), (await callApi(this.transport, 'ROLE.LIST', staleOf(options), timeoutOf(options))).roles)
  }

  /** Refused (RG_ERR_IN_USE) while a user holds it. */
  async remove(name: string, options: ApiCallOptions = {}): Promise<MutationResponse> {
    return (await callApi(this.transport, 'ROLE.DELETE', { name }, options)) as MutationResponse
  }
}
