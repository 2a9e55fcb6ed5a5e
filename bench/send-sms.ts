/**
 * An SMS broadcast end to end (issue 19): `sendCampaignNow` until the campaign is SENT, for 20,000
 * subscribed contacts (seeded in SQL) and a personalised Liquid body, to the kit's Twilio-compatible
 * API in a process of its own (test/kit/twilio-process.ts: it checks Basic auth and the form of
 * every request and counts them). Herald runs as `npm start` runs it (dist/main.mjs).
 * Checked, not only timed: the ledger is N rows SENT/ACCEPTED after one attempt, and the kit
 * accepted exactly N requests to N distinct numbers; exit code 1 otherwise.
 * Baseline, same run, same kit, after Herald has stopped: the naive loop — per contact render the
 * body with liquidjs and `await` one form POST with Basic auth (a keep-alive agent), on a sample.
 * CPU per message (from /proc) is printed beside the rates: on a shared machine it is the figure
 * others' load distorts least.
 * The kit answers each accepted message `latencyMs` late (default 20; Twilio's API answers in
 * 100-300 ms from most of the world): on loopback with no delay, the naive loop pays no round trip
 * and measures only CPU, which is not what sending to a provider is like. Both runs get the same delay.
 * Targets (issue 19): ≥ 1,000 SMS requests/s and ≥ 5× the naive loop.
 *   npx tsx bench/send-sms.ts [recipients=20000] [baselineSample=2000] [latencyMs=20]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { Liquid } from 'liquidjs';
import pg from 'pg';
import { type BenchProcess, cpuByRole, perSecond, spawnBenchHerald } from './kit.ts';

const total = Number(process.argv[2] ?? 20_000);
const sample = Math.min(total, Number(process.argv[3] ?? 2_000));
const latencyMs = Number(process.argv[4] ?? 20);
const load = () => loadavg().map((value) => value.toFixed(2)).join(' ');
const passFail = (pass: boolean) => (pass ? 'PASS' : 'FAIL');
const BODY = 'Hi {{ contact.firstName | truncate: 20 }}, your {{ contact.plan | truncate: 10 }} points: {{ contact.points | truncate: 8 }}. Reply STOP to opt out';
const FROM = '+15017122661';

const kit = spawn(process.execPath, ['--import', 'tsx', 'test/kit/twilio-process.ts'], { stdio: ['pipe', 'pipe', 'inherit'] });
process.once('exit', () => kit.kill('SIGTERM')); // also when the bench fails half-way
const line = (await createInterface({ input: kit.stdout! })[Symbol.asyncIterator]().next()).value as string;
const { origin, caFile, accountSid, authToken, controlPort } = JSON.parse(line) as { origin: string; caFile: string; accountSid: string; authToken: string; controlPort: number };
const counts = async () => (await (await fetch(`http://127.0.0.1:${controlPort}/counts`)).json()) as { requests: number; accepted: number; distinctTo: number };
const setLatency = () => fetch(`http://127.0.0.1:${controlPort}/delay?ms=${latencyMs}`, { method: 'POST' });
await setLatency();
console.log(`Twilio kit at ${origin} (pid ${kit.pid}), answering ${latencyMs} ms late; load average ${load()}`);

const roleOf = ({ pid, comm, cmdline }: BenchProcess) =>
  pid === process.pid ? 'driver' : pid === kit.pid ? 'Twilio kit' : comm === 'postgres' ? 'PostgreSQL' : cmdline.includes('dist/main.mjs') ? 'Herald' : undefined;
/** Each role's CPU between two readings, as ms per message and share of one core. */
function cpuReport(before: Map<string, number>, after: Map<string, number>, messages: number, ms: number) {
  return [...after]
    .map(([role, used]) => [role, (used - (before.get(role) ?? 0)) / messages] as const)
    .filter(([, used]) => used > 0)
    .map(([role, used]) => `${role} ${used.toFixed(3)} ms/message (${Math.round(((used * messages) / ms) * 100)}% of a core)`)
    .join(', ');
}

const bench = await spawnBenchHerald({ HERALD_SMS_ALLOWED_HOSTS: '127.0.0.1', HERALD_PUSH_CA: caFile });
await bench.secret('mutation($sms: SmsSettingsInput) { updateWorkspaceSettings(input: { sms: $sms }) { __typename } }', {
  sms: { accountSid, authToken, from: FROM, baseUrl: origin },
});
const db = new pg.Client({ connectionString: bench.databaseUrl });
await db.connect();
await db.query(
  `INSERT INTO "Contact" (id, "workspaceId", "externalId", "firstName", phone, "smsStatus", "smsStatusAt", "smsStatusSource", identified, attributes, "updatedAt")
   SELECT gen_random_uuid(), $1::uuid, 'reader-' || i, (ARRAY['Ada', 'Jonas', 'Maren', 'Lukas', 'Sofia', 'Emil', 'Lena', 'Felix'])[1 + i % 8],
     '+48601' || lpad(i::text, 6, '0'), 'SUBSCRIBED', now(), 'api', true,
     jsonb_build_object('plan', (ARRAY['gold', 'silver', 'basic'])[1 + i % 3], 'points', (i * 37) % 1000), now()
   FROM generate_series(1, $2::int) i`,
  [bench.workspaceId, total],
);
await db.query('ANALYZE "Contact"');
console.log(`seeded ${total.toLocaleString()} contacts`);

const created = await bench.secret(
  `mutation($input: CampaignInput!) { createCampaign(input: $input) { __typename ... on MutationCreateCampaignSuccess { data { id } } ... on Error { message } } }`,
  { input: { name: 'Bench texts', kind: 'BROADCAST', channel: 'SMS', sms: { body: BODY } } },
);
if (created.createCampaign.__typename !== 'MutationCreateCampaignSuccess') throw new Error(JSON.stringify(created.createCampaign));
const campaignId = created.createCampaign.data.id as string;
const campaignUuid = Buffer.from(campaignId, 'base64').toString().split(':')[1]!;

const loadBefore = load();
const cpuBefore = cpuByRole(roleOf);
const started = performance.now();
await bench.secret('mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }', { id: campaignId });
for (;;) {
  const { rows } = await db.query(`SELECT status FROM "Campaign" WHERE id = $1`, [campaignUuid]);
  if (rows[0]?.status === 'SENT') break;
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const heraldMs = performance.now() - started;
const heraldCpu = cpuReport(cpuBefore, cpuByRole(roleOf), total, heraldMs);
const loadAfter = load();
const sent = await counts();
const { rows } = await db.query<{ ok: number; other: string | null }>(
  `SELECT count(*) FILTER (WHERE status = 'SENT' AND reason = 'ACCEPTED' AND attempts = 1)::int AS ok,
     string_agg(DISTINCT status || '/' || COALESCE(reason::text, '-') || ' ' || COALESCE(left(error, 80), ''), '; ') FILTER (WHERE NOT (status = 'SENT' AND reason = 'ACCEPTED' AND attempts = 1)) AS other
   FROM "Message" WHERE "campaignId" = $1`,
  [campaignUuid],
);
await db.end();
const warnings = bench.warnings();
await bench.stop();

// The naive loop, same kit: render, then await one form POST with Basic auth per contact.
await fetch(`http://127.0.0.1:${controlPort}/clear`, { method: 'POST' });
await setLatency();
const liquid = new Liquid();
const template = liquid.parse(BODY);
const agent = new https.Agent({ keepAlive: true, ca: readFileSync(caFile, 'utf8') });
const url = `${origin}/2010-04-01/Accounts/${accountSid}/Messages.json`;
const authorization = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
const naiveCpuBefore = cpuByRole(roleOf);
const naiveStarted = performance.now();
for (let i = 1; i <= sample; i++) {
  const body = liquid.renderSync(template, { contact: { firstName: 'Ada', plan: 'gold', points: (i * 37) % 1000 } }) as string;
  const form = new URLSearchParams({ To: `+48602${String(i).padStart(6, '0')}`, From: FROM, Body: body, StatusCallback: 'https://herald.example/sms/status/x' }).toString();
  await new Promise<void>((resolve, reject) => {
    const req = https.request(url, { method: 'POST', agent, headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`naive loop: the kit answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(form);
  });
}
const naiveMs = performance.now() - naiveStarted;
const naiveCpu = cpuReport(naiveCpuBefore, cpuByRole(roleOf), sample, naiveMs);
agent.destroy();
const naiveCounts = await counts();

const heraldRate = perSecond(total, heraldMs);
const naiveRate = perSecond(sample, naiveMs);
const correct = rows[0]!.ok === total && sent.accepted === total && sent.requests === total && sent.distinctTo === total && naiveCounts.accepted === sample;
console.log(`Herald:     ${total.toLocaleString()} SMS in ${(heraldMs / 1000).toFixed(1)} s = ${heraldRate.toLocaleString()} SMS requests/s (load average before ${loadBefore}, after ${loadAfter})`);
console.log(`            CPU: ${heraldCpu}`);
console.log(`            ledger SENT/ACCEPTED after one attempt ${rows[0]!.ok}${rows[0]!.other ? ` (others: ${rows[0]!.other})` : ''}; kit accepted ${sent.accepted} of ${sent.requests} requests, distinct numbers ${sent.distinctTo}`);
console.log(`naive loop: ${sample.toLocaleString()} SMS in ${(naiveMs / 1000).toFixed(1)} s = ${naiveRate.toLocaleString()} SMS requests/s (load average ${load()})`);
console.log(`            CPU: ${naiveCpu}`);
console.log(`ratio: ${(heraldRate / naiveRate).toFixed(1)}x  | targets: ≥ 1,000/s ${passFail(heraldRate >= 1000)}, ≥ 5x ${passFail(heraldRate >= 5 * naiveRate)}, correct ${passFail(correct)}`);
if (warnings.length) console.log(`Herald's warnings and errors:\n${warnings.slice(0, 20).join('\n')}`);
kit.kill('SIGTERM');
process.exit(correct ? 0 : 1);
