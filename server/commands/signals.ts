// SIGINT/SIGTERM as a promise, so long-running verbs (sub, reply, kv watch) drain instead of dying
// mid-message; `dispose()` removes the listeners.
export interface SignalWait {
  readonly signalled: Promise<void>
  dispose(): void
}

export function untilSignal(): SignalWait {
  let onSignal: () => void = () => undefined
  const signalled = new Promise<void>((resolve) => {
    onSignal = () => resolve()
  })
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  return {
    signalled,
    dispose: () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
}
