/**
 * An email broadcast end to end (issue 18): `sendCampaignNow` until the campaign is SENT, for
 * 20,000 subscribed contacts (seeded in SQL, with names, plans, cities and points) and a
 * personalised MJML newsletter (bench/email-newsletter.ts: ~17 KB of MJML, ~54 KB of HTML, eleven
 * tracked links, Liquid fields, the open pixel, a derived text part, List-Unsubscribe), against the
 * kit's counting SMTP sink in a process of its own (test/kit/smtp-sink.ts, run by
 * smtp-server-process.ts --lean). It counts what smtp-server with parse: false counted (messages,
 * recipients and messages per address, bytes, messages with a DKIM-Signature header; smtp-kit.test.ts
 * checks the two agree) and greets a new connection after 100 ms as smtp-server does, but finds the
 * end of each message with indexOf instead of undoing dot-stuffing in a JavaScript stream: that
 * stream cost ~0.5 ms of CPU per 88 KB message on the same 2 cores Herald and PostgreSQL share
 * (BENCH_SMTP=smtp-server runs against smtp-server again). Two phases on the same contacts, one
 * campaign each: without DKIM, then with an RSA-2048 DKIM key (Herald signs rsa-sha256, src/delivery/email/dkim.ts).
 * Herald runs as `npm start` runs it (dist/main.mjs) with the heap flags we recommend in
 * production, NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=8" (HERALD_NODE_OPTIONS
 * overrides, '' for none); its resident memory is sampled every 100 ms from /proc.
 * Checked, not only timed: each phase's ledger is N rows SENT/ACCEPTED after one attempt each, and
 * the SMTP server received exactly N messages, one for each address (all DKIM-signed in the
 * second phase, none in the first); exit code 1 otherwise.
 * Baseline, same run, same SMTP server, after Herald has stopped: the naive loop, MJML compiled
 * once, then per contact liquidjs renders the subject and HTML and `await transporter.sendMail()`
 * sends it on a transport without a pool (a new SMTP connection per message), without and with
 * the same DKIM key, on a sample. It does less than Herald per message (no tracked links, pixel,
 * text part, List-Unsubscribe or ledger), but it waits for each connection's greeting, which
 * smtp-server (like Postfix's postscreen) sends only after 100 ms: that wait, not CPU, sets its
 * pace. So the same loop on one reused connection (pool: true) is printed too, not compared.
 * Targets (issue 18): ≥ 1,000 emails/s without DKIM, ≥ 500/s with, ≥ 5× the naive loop, RSS < 300 MB.
 * Each role's CPU time per email is printed too, with the load average: on a shared machine the
 * rate follows others' load, CPU per email much less.
 *   npx tsx bench/send-email.ts [recipients=20000] [baselineSample=2000]
 *   (BENCH_PROGRESS_MS=250 prints each phase's progress four times a second, to see its first seconds)
 *   (HERALD_PUSH_CONCURRENCY=…, HERALD_NODE_OPTIONS=… are passed to Herald; to profile it,
 *   HERALD_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/herald-prof" writes a .cpuprofile when it stops;
 *   BENCH_PG_STATEMENTS=1 prints the statements that took PostgreSQL's time in each phase)
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Liquid } from 'liquidjs';
import mjml2html from 'mjml';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { generateDkimKeys, spawnSmtpServer } from '../test/kit/smtp-server.ts';
import { newsletterMjml, newsletterPreheader, newsletterSubject } from './email-newsletter.ts';
import { type BenchProcess, cpuByRole, perSecond, spawnBenchHerald, topStatements } from './kit.ts';

const total = Number(process.argv[2] ?? 20_000);
const sample = Math.min(total, Number(process.argv[3] ?? 2_000));
const heapFlags = process.env.HERALD_NODE_OPTIONS ?? '--max-old-space-size=256 --max-semi-space-size=8';
const passFail = (pass: boolean) => (pass ? 'PASS' : 'FAIL');
const FROM = { name: 'Shop', address: 'news@shop.example' };
const dkimKeys = generateDkimKeys();
const dkim = { domain: 'shop.example', selector: 'herald', privateKey: dkimKeys.privateKey };

const lean = process.env.BENCH_SMTP !== 'smtp-server';
const smtp = await spawnSmtpServer({ lean });
process.once('exit', () => smtp.child.kill('SIGTERM')); // also when the bench fails half-way
console.log(`SMTP ${lean ? 'sink (smtp-sink.ts)' : 'server (smtp-server, parse: false)'} at ${smtp.url} (pid ${smtp.child.pid}); Herald NODE_OPTIONS=${JSON.stringify(heapFlags)}`);
const bench = await spawnBenchHerald({
  HERALD_SMTP_ALLOWED_HOSTS: '127.0.0.1',
  ...(heapFlags ? { NODE_OPTIONS: heapFlags } : {}),
  ...(process.env.HERALD_PUSH_CONCURRENCY ? { HERALD_PUSH_CONCURRENCY: process.env.HERALD_PUSH_CONCURRENCY } : {}),
});
const rssAtStart = bench.rssMb();
console.log(`Herald started; RSS ${Math.round(rssAtStart)} MB`);
const db = new pg.Client({ connectionString: bench.databaseUrl });
await db.connect();

const seeded = performance.now();
await db.query(
  `INSERT INTO "Contact" (id, "workspaceId", "externalId", email, "firstName", "lastName", identified, "emailStatus", "emailStatusAt", "emailStatusSource", attributes, "updatedAt")
   SELECT gen_random_uuid(), $1::uuid, 'reader-' || i, 'reader-' || i || '@mail.example',
     (ARRAY['Ada', 'Jonas', 'Maren', 'Lukas', 'Sofia', 'Emil', 'Lena', 'Felix'])[1 + i % 8],
     (ARRAY['Hofer', 'Gruber', 'Huber', 'Wagner', 'Pichler', 'Steiner', 'Moser'])[1 + i % 7], true, 'SUBSCRIBED', now(), 'api',
     jsonb_build_object('plan', (ARRAY['gold', 'silver', 'basic'])[1 + i % 3], 'city', (ARRAY['Innsbruck', 'Salzburg', 'Graz', 'Wien', NULL])[1 + i % 5], 'points', (i * 37) % 1000),
     now()
   FROM generate_series(1, $2::int) i`,
  [bench.workspaceId, total],
);
await db.query('ANALYZE "Contact"');
console.log(`seeded ${total.toLocaleString()} subscribed contacts in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);

const SETTINGS = `mutation($input: MutationUpdateWorkspaceSettingsInput!) {
  updateWorkspaceSettings(input: $input) { __typename ... on Error { message } }
}`;
async function emailSettings(withDkim: boolean) {
  const email = { fromAddress: FROM.address, fromName: FROM.name, smtpUrl: smtp.url, dkim: withDkim ? dkim : null };
  const result = (await bench.secret(SETTINGS, { input: { email } })).updateWorkspaceSettings;
  if (result.__typename !== 'MutationUpdateWorkspaceSettingsSuccess') throw new Error(`updateWorkspaceSettings: ${JSON.stringify(result)}`);
}

// CPU time (clock ticks) of this bench's processes by role (bench/kit.ts cpuByRole: other work on the machine is not counted).
type Role = 'Herald' | 'PostgreSQL' | 'SMTP server' | 'driver';
const ROLES: Role[] = ['Herald', 'PostgreSQL', 'SMTP server', 'driver'];
const TICKS_PER_SECOND = 100;
const roleOf = ({ pid, comm, cmdline }: BenchProcess): Role | undefined =>
  pid === process.pid ? 'driver' : pid === smtp.child.pid ? 'SMTP server' : comm === 'postgres' ? 'PostgreSQL' : cmdline.includes('dist/main.mjs') ? 'Herald' : undefined;
function ticksByRole(): Map<Role, number> {
  const ms = cpuByRole(roleOf);
  return new Map(ROLES.map((role) => [role, ((ms.get(role) ?? 0) * TICKS_PER_SECOND) / 1000]));
}
/** Busy and idle ticks of the whole machine, from /proc/stat. */
function machineTicks() {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number) as number[];
  return { busy: user! + nice! + system! + irq! + softirq! + steal!, idle: idle! + iowait! };
}
const cpuSnapshot = () => ({ roles: ticksByRole(), machine: machineTicks() });
/**
 * Each role's share of a core and its CPU time per email: the second is what other agents' load
 * distorts least (a busy machine stretches the wall clock, not the work each email takes).
 */
function cpuReport(before: ReturnType<typeof cpuSnapshot>, after: ReturnType<typeof cpuSnapshot>, seconds: number, emails: number) {
  const percent = (ticks: number) => `${Math.round((ticks / TICKS_PER_SECOND / seconds) * 100)}%`;
  const perEmail = (ticks: number) => `${((ticks / TICKS_PER_SECOND / emails) * 1000).toFixed(2)} ms/email`;
  const roles = [...after.roles].map(([role, ticks]) => `${role} ${percent(ticks - before.roles.get(role)!)} (${perEmail(ticks - before.roles.get(role)!)})`);
  return `${roles.join(', ')}; the whole machine busy ${percent(after.machine.busy - before.machine.busy)} of ${cpus().length * 100}%`;
}

let peakRss = bench.rssMb();
const rssSampler = setInterval(() => (peakRss = Math.max(peakRss, bench.rssMb())), 100);

interface Phase {
  label: string;
  ms: number;
  rate: number;
  exact: boolean;
  bytesPerEmail: number;
  peakRss: number;
  cpu: string;
  /** The machine's 1, 5 and 15 minute load averages as the phase ended: others' work distorts the rate. */
  load: string;
  warnings: string[];
}
/** BENCH_PROGRESS_MS: how often a phase prints its progress (2000; 250 shows the first second's ramp). */
const PROGRESS_MS = Number(process.env.BENCH_PROGRESS_MS ?? 2000);
const loadNow = () => loadavg().map((value) => value.toFixed(2)).join(' ');

/** One campaign to everyone, timed from sendCampaignNow to SENT, then checked against the ledger and the SMTP server. */
async function phase(label: string, withDkim: boolean): Promise<Phase> {
  await emailSettings(withDkim);
  await smtp.clear();
  const created = (
    await bench.secret(
      `mutation($input: CampaignInput!) { createCampaign(input: $input) {
        __typename ... on MutationCreateCampaignSuccess { data { id warnings } } ... on ValidationError { fieldErrors { path message } } ... on Error { message } } }`,
      { input: { name: label, kind: 'BROADCAST', channel: 'EMAIL', email: { subject: newsletterSubject, preheader: newsletterPreheader, mjml: newsletterMjml } } },
    )
  ).createCampaign;
  if (created.__typename !== 'MutationCreateCampaignSuccess') throw new Error(`createCampaign: ${JSON.stringify(created)}`);
  const { id, warnings } = created.data as { id: string; warnings: string[] };
  const campaignUuid = Buffer.from(id, 'base64').toString().split(':')[1]!;

  const rssBefore = bench.rssMb(); // after createCampaign compiled the MJML
  peakRss = rssBefore;
  await topStatements(db); // resets the count: what follows is this phase's
  const cpuBefore = cpuSnapshot();
  console.log(`\n${label}: sendCampaignNow to ${total.toLocaleString()} contacts (Herald RSS before: ${Math.round(rssBefore)} MB)`);
  const started = performance.now();
  await bench.secret('mutation($id: ID!) { sendCampaignNow(input: { id: $id }) { __typename } }', { id });
  let lastPrint = 0;
  for (;;) {
    const { campaign } = await bench.secret('query($id: ID!) { campaign(id: $id) { status stats { targeted sent failed } } }', { id });
    const elapsed = performance.now() - started;
    if (campaign.status === 'SENT') break;
    if (elapsed - lastPrint >= PROGRESS_MS) {
      lastPrint = elapsed;
      const { targeted, sent, failed } = campaign.stats;
      const arrived = (await smtp.counts()).messages;
      console.log(
        `  ${(elapsed / 1000).toFixed(PROGRESS_MS < 1000 ? 2 : 0).padStart(3)} s: sent ${sent.toLocaleString()} / ${total.toLocaleString()} (${perSecond(sent, elapsed).toLocaleString()} emails/s so far), ` +
          `at the SMTP server ${arrived.toLocaleString()}, ledger rows ${targeted.toLocaleString()}, failed ${failed}, Herald RSS ${Math.round(bench.rssMb())} MB`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const ms = performance.now() - started;
  const cpu = cpuReport(cpuBefore, cpuSnapshot(), ms / 1000, total);
  const statements = await topStatements(db);
  if (statements) console.log(`  PostgreSQL's time by statement (pg_stat_statements):\n${statements}`);

  const { rows: ledger } = await db.query<{ status: string; reason: string | null; rows: string; attempts: string }>(
    `SELECT status, reason, count(*) AS rows, sum(attempts) AS attempts FROM "Message" WHERE "campaignId" = $1::uuid GROUP BY 1, 2 ORDER BY 1, 2`,
    [campaignUuid],
  );
  const received = await smtp.counts({ perAddress: true });
  const addresses = Object.values(received.perAddress ?? {});
  const sentOnce = ledger.length === 1 && ledger[0]!.status === 'SENT' && ledger[0]!.reason === 'ACCEPTED' && Number(ledger[0]!.rows) === total && Number(ledger[0]!.attempts) === total;
  const exact =
    sentOnce && received.messages === total && addresses.length === total && addresses.every((count) => count === 1) && received.dkimSigned === (withDkim ? total : 0);
  console.log(`  ledger: ${ledger.map((row) => `${row.status}/${row.reason} ${Number(row.rows).toLocaleString()} rows, ${Number(row.attempts).toLocaleString()} attempts`).join('; ')}`);
  console.log(
    `  delivered exactly once: ${passFail(exact)} (the SMTP server received ${received.messages.toLocaleString()} messages for ${addresses.length.toLocaleString()} addresses, ` +
      `${received.dkimSigned.toLocaleString()} DKIM-signed, ${(received.bytes / 1e6).toFixed(0)} MB)`,
  );
  return { label, ms, rate: perSecond(total, ms), exact, bytesPerEmail: received.bytes / Math.max(1, received.messages), peakRss, cpu, load: loadNow(), warnings };
}

const plain = await phase('without DKIM', false);
const signed = await phase('with DKIM (RSA-2048)', true);
clearInterval(rssSampler);

// The baseline's contacts, read before Herald (and its database) stop.
const { rows: contacts } = await db.query<{ externalId: string; email: string; firstName: string; lastName: string; attributes: Record<string, unknown> }>(
  `SELECT "externalId", email, "firstName", "lastName", attributes FROM "Contact" WHERE "workspaceId" = $1::uuid ORDER BY "createdAt", id LIMIT $2`,
  [bench.workspaceId, sample],
);
await db.end();
await bench.stop();

// The naive loop: MJML compiled once, Liquid rendered per contact, one awaited sendMail at a time on a transport without a pool.
const { html: compiledHtml } = await mjml2html(newsletterMjml, { validationLevel: 'strict' });
const liquid = new Liquid();
const [subjectTemplate, htmlTemplate] = [liquid.parse(newsletterSubject), liquid.parse(compiledHtml)];
async function naiveLoop(withDkim: boolean, pool = false) {
  await smtp.clear();
  const signing = { domainName: dkim.domain, keySelector: dkim.selector, privateKey: dkim.privateKey };
  const transporter = nodemailer.createTransport({ host: '127.0.0.1', port: smtp.port, pool, ...(withDkim ? { dkim: signing } : {}) });
  const started = performance.now();
  for (const { attributes, ...fields } of contacts) {
    const scope = { contact: { ...attributes, ...fields }, unsubscribe_url: `https://herald.example/e/u/${fields.externalId}` };
    await transporter.sendMail({
      from: FROM,
      to: fields.email,
      subject: await liquid.render(subjectTemplate, scope),
      html: await liquid.render(htmlTemplate, scope),
    });
  }
  const rate = perSecond(contacts.length, performance.now() - started);
  transporter.close();
  const { messages, dkimSigned } = await smtp.counts();
  if (messages !== contacts.length || dkimSigned !== (withDkim ? messages : 0)) {
    throw new Error(`the naive loop sent ${contacts.length}, the SMTP server received ${messages}, ${dkimSigned} DKIM-signed`);
  }
  return rate;
}
console.log(`\nbaseline: the naive loop on ${contacts.length.toLocaleString()} contacts, without and with DKIM`);
const baselinePlain = await naiveLoop(false);
const baselineSigned = await naiveLoop(true);
// Shown, not compared: one connection reused (pool: true), still one message at a time and no
// greeting per message (the sink and smtp-server, like Postfix's postscreen, pause 100 ms before greeting a new connection).
const pooledPlain = await naiveLoop(false, true);
await smtp.stop();

const ratioPlain = plain.rate / baselinePlain;
const ratioSigned = signed.rate / baselineSigned;
const peak = Math.max(plain.peakRss, signed.peakRss);
console.log(`\nthe email: ${(Buffer.byteLength(newsletterMjml) / 1024).toFixed(1)} KB of MJML, ${(compiledHtml.length / 1024).toFixed(1)} KB of HTML compiled; ${(plain.bytesPerEmail / 1024).toFixed(1)} KB per message at the SMTP server without DKIM, ${(signed.bytesPerEmail / 1024).toFixed(1)} KB with`);
if (plain.warnings.length) console.log(`campaign warnings: ${plain.warnings.join('; ')}`);
for (const { label, cpu } of [plain, signed]) console.log(`CPU during the send ${label} (100% = one core): ${cpu}`);
console.log(`Herald without DKIM: ${total.toLocaleString()} emails in ${(plain.ms / 1000).toFixed(1)} s = ${plain.rate.toLocaleString()} emails/s (target ≥ 1,000): ${passFail(plain.rate >= 1000)}; load average ${plain.load}`);
console.log(`Herald with DKIM (RSA-2048): ${total.toLocaleString()} emails in ${(signed.ms / 1000).toFixed(1)} s = ${signed.rate.toLocaleString()} emails/s (target ≥ 500): ${passFail(signed.rate >= 500)}; load average ${signed.load}`);
console.log(`baseline (await transporter.sendMail() one at a time, no pool, liquidjs per message; sample ${contacts.length.toLocaleString()}): ${baselinePlain.toLocaleString()} emails/s without DKIM, ${baselineSigned.toLocaleString()} with`);
console.log(`  (not compared: the same loop on one reused connection, pool: true, without DKIM: ${pooledPlain.toLocaleString()} emails/s; a new connection waits for the greeting, which the sink, like smtp-server, sends after 100 ms)`);
console.log(`ratio without DKIM: ${ratioPlain.toFixed(1)}× (target ≥ 5×): ${passFail(ratioPlain >= 5)}`);
console.log(`ratio with DKIM: ${ratioSigned.toFixed(1)}× (target ≥ 5×): ${passFail(ratioSigned >= 5)}`);
console.log(`load average at the end (1, 5, 15 min): ${loadNow()} on ${cpus().length} cores`);
console.log(`Herald's peak RSS during the sends: ${Math.round(peak)} MB (at start ${Math.round(rssAtStart)} MB; target < 300 MB): ${passFail(peak < 300)}`);
process.exit(plain.exact && signed.exact ? 0 : 1);
