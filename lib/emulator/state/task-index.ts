/**
 * A queue's tasks: by name for O(1) lookup, and in creation order (`seq`) for stable paging: ListTasks pages by seq in
 * O(log n + page) and stays stable while tasks are added or removed.
 */
import type { Task } from '../model';

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class TaskIndex {
  private readonly byName = new Map<string, Mutable<Task>>();
  /** Ascending seq. Removed tasks stay until compaction; a task is live iff byName maps its name to it. */
  private order: Mutable<Task>[] = [];
  private dead = 0;

  get size(): number {
    return this.byName.size;
  }

  get(name: string): Mutable<Task> | undefined {
    return this.byName.get(name);
  }

  /** Appends a task; `seq` must be above every seq added before (creation order). */
  add(task: Mutable<Task>): void {
    this.byName.set(task.name, task);
    this.order.push(task);
  }

  delete(name: string): Mutable<Task> | undefined {
    const task = this.byName.get(name);
    if (!task) return undefined;
    this.byName.delete(name);
    this.dead++;
    // Amortized O(1): compact only when most of the array is dead.
    if (this.dead > 1024 && this.dead * 2 > this.order.length) {
      this.order = this.order.filter((t) => this.byName.get(t.name) === t);
      this.dead = 0;
    }
    return task;
  }

  /** Live tasks in creation order (a Map iterates in insertion order, and a re-used name is a new insertion). */
  values(): IterableIterator<Mutable<Task>> {
    return this.byName.values();
  }

  /** Up to `limit` live tasks with seq > afterSeq, and whether more follow. */
  page(afterSeq: number, limit: number): { tasks: Mutable<Task>[]; more: boolean } {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.order[mid].seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    const tasks: Mutable<Task>[] = [];
    for (let i = lo; i < this.order.length; i++) {
      const t = this.order[i];
      if (this.byName.get(t.name) !== t) continue;
      if (tasks.length === limit) return { tasks, more: true };
      tasks.push(t);
    }
    return { tasks, more: false };
  }

  clear(): Mutable<Task>[] {
    const live = [...this.byName.values()];
    this.byName.clear();
    this.order = [];
    this.dead = 0;
    return live;
  }
}
