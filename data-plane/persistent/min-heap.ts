// A binary min-heap under a comparison function. Pure; used by the orderer for events waiting
// to become stable.

export class MinHeap<T> {
  readonly #items: T[] = []
  readonly #compare: (a: T, b: T) => number

  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare
  }

  get size(): number {
    return this.#items.length
  }

  peek(): T | undefined {
    return this.#items[0]
  }

  push(item: T): void {
    const items = this.#items
    items.push(item)
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.#compare(items[i] as T, items[parent] as T) >= 0) break
      ;[items[i], items[parent]] = [items[parent] as T, items[i] as T]
      i = parent
    }
  }

  pop(): T | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (items.length === 0 || last === undefined) return top
    items[0] = last
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < items.length && this.#compare(items[left] as T, items[smallest] as T) < 0) smallest = left
      if (right < items.length && this.#compare(items[right] as T, items[smallest] as T) < 0) smallest = right
      if (smallest === i) break
      ;[items[i], items[smallest]] = [items[smallest] as T, items[i] as T]
      i = smallest
    }
    return top
  }
}
