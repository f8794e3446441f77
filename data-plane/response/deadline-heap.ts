// A binary min-heap of deadlines with removal by handle: each item remembers its slot, so a
// response that arrives removes its deadline in O(log n) instead of leaving a stale entry behind
// (a lazily-deleted heap would grow with every answered request). Pure.

export interface HeapItem {
  deadlineMs: number
  /** Slot in the heap array; -1 when not in the heap. Owned by the heap. */
  heapIndex: number
}

export class DeadlineHeap<Item extends HeapItem> {
  readonly #items: Item[] = []

  get size(): number {
    return this.#items.length
  }

  peek(): Item | undefined {
    return this.#items[0]
  }

  push(item: Item): void {
    if (item.heapIndex !== -1) throw new Error('deadline heap: item is already in a heap')
    item.heapIndex = this.#items.length
    this.#items.push(item)
    this.#up(item.heapIndex)
  }

  pop(): Item | undefined {
    const top = this.#items[0]
    if (top !== undefined) this.remove(top)
    return top
  }

  remove(item: Item): void {
    const index = item.heapIndex
    // Invariant: an item's heapIndex is its slot while it is in the heap.
    if (index < 0 || this.#items[index] !== item) throw new Error('deadline heap: item is not in this heap')
    const last = this.#items.pop() as Item
    item.heapIndex = -1
    if (last === item) return
    this.#items[index] = last
    last.heapIndex = index
    this.#up(index)
    this.#down(last.heapIndex)
  }

  #swap(a: number, b: number): void {
    const itemA = this.#items[a] as Item
    const itemB = this.#items[b] as Item
    this.#items[a] = itemB
    this.#items[b] = itemA
    itemA.heapIndex = b
    itemB.heapIndex = a
  }

  #up(start: number): void {
    let index = start
    while (index > 0) {
      const parent = (index - 1) >> 1
      if ((this.#items[parent] as Item).deadlineMs <= (this.#items[index] as Item).deadlineMs) return
      this.#swap(index, parent)
      index = parent
    }
  }

  #down(start: number): void {
    let index = start
    const length = this.#items.length
    while (true) {
      const left = 2 * index + 1
      const right = left + 1
      let smallest = index
      if (left < length && (this.#items[left] as Item).deadlineMs < (this.#items[smallest] as Item).deadlineMs) smallest = left
      if (right < length && (this.#items[right] as Item).deadlineMs < (this.#items[smallest] as Item).deadlineMs) smallest = right
      if (smallest === index) return
      this.#swap(index, smallest)
      index = smallest
    }
  }
}
