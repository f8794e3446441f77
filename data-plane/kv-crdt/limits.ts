// Every named maximum of the CRDT KV core (TigerBeetle: put a limit on everything).
//
// Two kinds of limit, and why they differ:
// - Codec limits (key, value, change, patch bytes) bound one operation. `decodeKvOp` refuses an
//   operation over them, so no replica ever holds one.
// - Bucket limits (keys, merges per JSON value, pending operations) are checked by the *writer*
//   when it makes an operation (`CrdtKvState.put/merge/...` refuse). A replica applying an
//   operation from a peer never refuses it for a bucket limit — replicas that refused different
//   operations would diverge — so a bucket can pass these limits by what concurrent writers made
//   before they saw each other. Pending operations are the exception: they are refused *without
//   being recorded*, so anti-entropy brings them again later (see state.ts).

/** UTF-8 bytes of a key. */
export const keyBytesMax = 1024
/** Bytes of a plain (last-writer-wins) value. */
export const valueBytesMax = 1024 * 1024
/** UTF-8 bytes of a JSON merge patch as JSON text (what a client sends). */
export const jsonPatchBytesMax = 64 * 1024
/** Nesting depth of a JSON merge patch (objects and arrays). */
export const jsonDepthMax = 32
/** Bytes of one Automerge change in a `merge` operation (a patch at its maximum stays well below). */
export const jsonChangeBytesMax = 256 * 1024
/** Merges one JSON value takes before its writer refuses more (delete and re-create it to start a fresh history). */
export const jsonMergesPerValueMax = 10_000
/** Keys with a value in one bucket, checked by the writer when a write would create one. */
export const keysPerBucketMax = 1_000_000
/** Operations one replica holds while their base (a put or delete) has not arrived. */
export const pendingOpsMax = 100_000
/** Counter deltas and per-origin tallies are signed 64-bit on the wire. */
export const counterDeltaMin = -(2n ** 63n)
export const counterDeltaMax = 2n ** 63n - 1n
/** Automerge documents kept loaded; beyond it the least recently used are saved to bytes and freed. */
export const jsonDocsLoadedMaxDefault = 10_000
/** Watchers of one bucket state. */
export const watchersMax = 10_000
/** Operations in one `applyBatch` call. */
export const applyBatchOpsMax = 100_000
