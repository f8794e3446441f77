// A Storage that forwards every call to `inner` except the ones `overrides` replaces: the base of
// the test doubles that spy on, hold or fail writes (driver, node and stream tests).
import type { Storage } from '../../shared/storage/index.js'

export function delegateStorage(inner: Storage, overrides: Partial<Pick<Storage, 'get' | 'put' | 'delete' | 'batch' | 'range' | 'close'>>): Storage {
  const storage: Storage = {
    get keySpaces() {
      return inner.keySpaces
    },
    get isOpen() {
      return inner.isOpen
    },
    get: overrides.get ?? ((keySpace, key) => inner.get(keySpace, key)),
    put: overrides.put ?? ((keySpace, key, value, options) => inner.put(keySpace, key, value, options)),
    delete: overrides.delete ?? ((keySpace, key, options) => inner.delete(keySpace, key, options)),
    batch: overrides.batch ?? ((operations, options) => inner.batch(operations, options)),
    range: overrides.range ?? ((keySpace, options) => inner.range(keySpace, options)),
    close: overrides.close ?? (() => inner.close()),
  }
  const deleteRange = inner.deleteRange?.bind(inner)
  // Object.assign keeps the getters above (a spread would freeze them into values).
  return deleteRange === undefined ? storage : Object.assign(storage, { deleteRange })
}
