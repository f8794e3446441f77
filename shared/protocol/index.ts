// Public entry of the protocol codec: the contract types, parser, encoder and headers.
export * from './types.js'
export { createParser, bufferedBytesBound } from './parser.js'
export type { ParserLimits } from './parser.js'
export {
  encodeOp,
  encodeMsgHeader,
  encodeHmsgHeader,
  encodePubHeader,
  encodeHpubHeader,
  encodeErr,
  crlf,
  pingBytes,
  pongBytes,
  okBytes,
  ProtocolEncodeError,
} from './encoder.js'
export {
  NatsHeaders,
  InvalidHeaderError,
  headerGet,
  headerValues,
  headersFrom,
  validateHeaders,
  encodeHeaders,
  decodeHeaders,
  headerVersionLine,
} from './headers.js'
export type { HeadersInit, HeadersDecodeResult } from './headers.js'
export { connectOptionsFrom, serverInfoFrom, connectOptionsJson } from './json-ops.js'
