import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHerald, type TestHerald } from './kit/herald.ts';

let api: TestHerald;
let worker: TestHerald;
let probeRan: (run: { data: unknown; at: number }) => void;
const probe = new Promise<{ data: unknown; at: number }>((resolve) => (probeRan = resolve));

beforeAll(async () => {
  api = await startTestHerald({ HERALD_ROLE: 'api' });
  worker = await startTestHerald(
    { HERALD_ROLE: 'worker', DATABASE_URL: api.databaseUrl },
    { defineJobs: (agenda) => agenda.define('test:probe', async (job) => probeRan({ data: job.attrs.data, at: Date.now() })) },
  );
});
afterAll(async () => {
  await worker?.stop();
  await api?.stop();
});

describe('roles and Agenda', () => {
  it('keeps Agenda’s tables in their own schema', async () => {
    const client = new pg.Client({ connectionString: api.databaseUrl });
    await client.connect();
    const { rows } = await client.query<{ table_schema: string; table_name: string }>(
      `SELECT table_schema, table_name FROM information_schema.tables WHERE table_name LIKE 'agenda%'`,
    );
    await client.end();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((row) => row.table_schema === 'agenda')).toBe(true);
  });

  it('runs a job scheduled by the api role on the worker role, woken at once', async () => {
    const scheduledAt = Date.now();
    await api.herald.agenda.now('test:probe', { hello: 'worker' });
    const { data, at } = await probe;
    expect(data).toEqual({ hello: 'worker' });
    // Agenda polls every 5 s; a job this quick came through the LISTEN/NOTIFY wake-up.
    expect(at - scheduledAt).toBeLessThan(4000);
  });

  it('serves GraphQL on the api role only; both answer health checks', async () => {
    expect((await fetch(`${worker.url}/graphql`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${worker.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    const response = await fetch(api.graphqlUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' });
    expect(response.status).toBe(200);
  });
});
