// Shared machinery of the group controller's pure tests: settings, a controller at a term with
// restored progress, and readers of its `ready()` output.
import { GroupController, ProgressState } from '../../data-plane/persistent/consumer/index.js'
import type { ControllerReady, ControllerSend, GroupSettings } from '../../data-plane/persistent/consumer/index.js'

export function settings(overrides: Partial<GroupSettings> = {}): GroupSettings {
  return {
    mode: 'load-balanced',
    maxInFlight: 10,
    ackWaitMs: 1_000,
    maxDeliveries: 0,
    maxLag: 0,
    heartbeatMsDefault: 1_000,
    missedHeartbeatsMax: 3,
    fetchExpiresMsDefault: 5_000,
    fetchIdleMs: 10,
    deadLetterRetryMs: 500,
    ...overrides,
  }
}

export function controller(options: { settings?: Partial<GroupSettings>; available?: number; term?: number; gathered?: ProgressState[]; startIndex?: number; nowMs?: number; writer?: string } = {}): GroupController {
  const term = options.term ?? 1
  const restored = ProgressState.restore(term, options.gathered ?? [])
  if (!restored.ok) throw restored.error
  return new GroupController({
    term,
    writer: options.writer ?? `node:${term}`,
    settings: settings(options.settings),
    progress: restored.value.state,
    startIndex: options.startIndex ?? 0,
    available: options.available ?? 0,
    nowMs: options.nowMs ?? 0,
  })
}

export type MessageSend = Extract<ControllerSend, { kind: 'message' }>

export const messages = (ready: ControllerReady): MessageSend[] => ready.sends.filter((s): s is MessageSend => s.kind === 'message')
export const statuses = (ready: ControllerReady): Array<Extract<ControllerSend, { kind: 'status' }>> => ready.sends.filter((s): s is Extract<ControllerSend, { kind: 'status' }> => s.kind === 'status')
