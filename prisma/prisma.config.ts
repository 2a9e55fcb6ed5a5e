import { defineConfig } from 'prisma/config';

// The Prisma CLI reads this through `npm run prisma -- <command>` (prisma/prisma.mjs), which also
// points it at the offline schema engine. Herald itself applies migrations at start.
export default defineConfig({
  schema: 'schema.prisma',
  migrations: { path: 'migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/herald_dev' },
});
