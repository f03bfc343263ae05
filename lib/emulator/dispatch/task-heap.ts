/**
 * A binary min-heap of due times, so the dispatcher finds a queue's next due task in O(1) and takes it in O(log n),
 * however many tasks wait (a seeded queue can hold 100,000). Entries are never updated in place: a rescheduled task
 * gets a new entry and the old one is recognised as stale when it reaches the top (lazy deletion).
 */
export interface HeapEntry {
  /** Due time, ms since the epoch. */
  readonly at: number;
  /** Tie-break: earlier entries first, so tasks due at the same time go in creation order. */
  readonly seq: number;
}

export class MinHeap<T extends HeapEntry> {
  private items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i], a[parent])) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop() as T;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l], a[m])) m = l;
        if (r < a.length && before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.items = [];
  }
}

function before(x: HeapEntry, y: HeapEntry): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}
