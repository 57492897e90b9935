/**
 * `work` applied to every item, with at most `limit` running at once, yielded in the order of
 * the items as each is done (a slow item holds back the reporting of later ones, not their work).
 */
export async function* inOrder<T, R>(
  items: readonly T[],
  work: (item: T, index: number) => Promise<R>,
  limit: number,
): AsyncGenerator<[T, R]> {
  const running: Promise<R>[] = [];
  let next = 0;
  for (let i = 0; i < items.length; i++) {
    while (next < items.length && next < i + limit) {
      const started = work(items[next]!, next);
      next++;
      started.catch(() => undefined); // awaited in its turn below; a failure is reported there
      running.push(started);
    }
    yield [items[i]!, await running[i]!];
    delete running[i];
  }
}
