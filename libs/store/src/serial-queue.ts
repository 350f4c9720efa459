/**
 * Runs async tasks one at a time, in call order.
 *
 * Why: TypeORM's better-sqlite3 driver has exactly one connection and one query runner, shared by
 * every caller. Two overlapping `dataSource.transaction()` calls would nest as SAVEPOINTs of each
 * other, and a statement issued while another caller's transaction is open would commit or roll
 * back with it. On SQLite the store therefore runs each operation through this queue; Postgres
 * gets a connection per transaction from its pool and needs none of this.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private active = 0;

  /** true when no task is queued or running: a synchronous write cannot interleave with one */
  get idle(): boolean {
    return this.active === 0;
  }

  run<T>(task: () => Promise<T> | T): Promise<T> {
    this.active += 1;
    const result = this.tail.then(task);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.tail = settled.then(() => {
      this.active -= 1;
    });
    return result;
  }
}
