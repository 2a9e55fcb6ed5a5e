/**
 * How many SQL statements a request costs, read from Herald's own counter (`/metrics`). The counter
 * is the process's: the job system's polls and other background statements land in it too, and on
 * a loaded machine (CI) one may fall inside a measurement. They only ever add, so the fewest over a
 * few identical requests is the request's own count.
 */
export async function statementsOf(heraldUrl: string, request: () => Promise<void>, attempts = 3): Promise<number> {
  const counts: number[] = [];
  for (let attempt = 0; attempt < attempts; attempt++) {
    const before = await statementCount(heraldUrl);
    await request();
    counts.push((await statementCount(heraldUrl)) - before);
  }
  return Math.min(...counts);
}

async function statementCount(heraldUrl: string): Promise<number> {
  const text = await (await fetch(`${heraldUrl}/metrics`)).text();
  return Number(/^herald_db_queries_total (\d+)/m.exec(text)?.[1]);
}
