// Typed errors of cross-region shipping. The code comes from the one list in shared/errors.ts.
import { RailgunError } from '../../../shared/errors.js'

/** Shipping bytes are truncated, garbage, over a limit, or hold an invalid field. */
export class MalformedShipmentError extends RailgunError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RG_ERR_MALFORMED_SHIPMENT', `malformed shipment: ${message}`, options)
    this.name = 'MalformedShipmentError'
  }
}
