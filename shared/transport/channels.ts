// Channel names ↔ wire bytes. Byte 0 is the transport's control channel; channel i of
// `transportChannels` travels as byte i + 1.
import type { TransportChannel } from './types.js'
import { transportChannels } from './types.js'

export function channelByteOf(channel: TransportChannel): number {
  const index = transportChannels.indexOf(channel)
  if (index < 0) throw new RangeError(`unknown transport channel '${String(channel)}'`)
  return index + 1
}

export function channelOfByte(channelByte: number): TransportChannel | undefined {
  return channelByte >= 1 ? transportChannels[channelByte - 1] : undefined
}
