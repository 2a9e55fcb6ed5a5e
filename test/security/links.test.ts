import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { postRaw } from '../kit/client.ts';
import { useHerald } from '../kit/fixture.ts';
import { tally } from '../kit/tally.ts';

/**
 * Smart links (issue 23) put a redirect under Herald's host: every way to make /l/ send someone
 * somewhere no workspace stored (and createLink checked), and every way for one workspace or a
 * web page's publishable key to reach another's links. Each attempt must fail.
 */

const h = useHerald({}, { push: false });
const shop = h.useWorkspace('Redirect shop');
const DESKTOP = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const EVIL = 'evil.example';

const post = (credential: string, query: string, variables?: Record<string, unknown>) => postRaw(h.kit.graphqlUrl, credential, query, variables);

async function createLink(secretKey: string, input: Record<string, unknown>) {
  const answer = await post(secretKey, `mutation($input: MutationCreateLinkInput!) { createLink(input: $input) {
    __typename ... on MutationCreateLinkSuccess { data { id code shortUrl } } ... on ValidationError { fieldErrors { path } } } }`, { input });
  return answer.body.data!.createLink as { __typename: string; data?: { id: string; code: string; shortUrl: string } };
}

/** One request written byte for byte (no client normalises the path), answered as status and Location. */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; location: string | null }> {
  const { hostname, port } = new URL(h.kit.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      const lines = [`GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, `User-Agent: ${DESKTOP}`, 'Connection: close', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, location: /\r\nlocation: ([^\r\n]*)/i.exec(text)?.[1] ?? null });
    });
    socket.on('error', reject);
  });
}

describe('smart links', () => {
  it('redirect only to a stored target: no query, path, header or encoding trick chooses another', async () => {
    const link = (await createLink(shop.secretKey, { url: 'https://shop.example/safe', ios: 'https://shop.example/ios' })).data!;
    const path = `/l/${link.code}`;
    const attempts: [string, Record<string, string>?][] = [
      [`${path}?url=https://${EVIL}/`],
      [`${path}?u=https://${EVIL}/&s=AAAA`],
      [`${path}?next=//${EVIL}`],
      [`${path}?redirect_uri=https%3A%2F%2F${EVIL}`],
      [`${path}?m=https://${EVIL}/`],
      [`${path}?utm_source=x&target=javascript:alert(1)`],
      [`${path}/https://${EVIL}/`],
      [`${path}//${EVIL}`],
      [`${path}%2F%2F${EVIL}`],
      [`/l//${EVIL}`],
      [`/l/\\\\${EVIL}`],
      [`/l/%5C%5C${EVIL}`],
      [`/l/https:%2F%2F${EVIL}`],
      [`/l/${link.code.slice(0, 7)}`],
      [`/l/${link.code.toLowerCase() === link.code ? link.code.toUpperCase() : link.code.toLowerCase()}`],
      [`${path}%0d%0aLocation:%20https://${EVIL}`],
      [`/l/../graphql`],
      [path, { Host: EVIL }],
      [path, { 'X-Forwarded-Host': EVIL, 'X-Forwarded-Proto': 'javascript' }],
      [path, { Referer: `https://${EVIL}/` }],
    ];
    for (const [target, headers] of attempts) {
      const answer = await rawGet(target, headers);
      const label = `${target} ${JSON.stringify(headers ?? {})}`;
      expect([302, 400, 404], label).toContain(answer.status);
      if (answer.status === 302) expect(answer.location, label).toBe('https://shop.example/safe');
      expect(answer.location ?? '', label).not.toContain(EVIL);
    }

    // Nor can a workspace store such a target, or register a browser scheme to smuggle one in.
    const stored = await h.kit.herald.prisma.link.count();
    const targets = ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', ' javascript:alert(1)', 'java\tscript:alert(1)', 'vbscript:msgbox(1)', 'data:text/html;base64,PHNjcmlwdD4=', 'file:///etc/passwd', `//${EVIL}`, `\\\\${EVIL}`, `https:\\\\${EVIL}`, `https://shop.example@${EVIL}/`, 'about:blank', 'blob:https://shop.example/x'];
    const refusals = await Promise.all(
      targets.flatMap((target) => [createLink(shop.secretKey, { url: target }), createLink(shop.secretKey, { url: 'https://shop.example/', ios: target, android: target, fallback: target })]),
    );
    for (const result of refusals) expect(result.__typename).toBe('ValidationError');
    const schemes = await post(shop.secretKey, `mutation { updateWorkspaceSettings(input: { links: { appSchemes: ["javascript", "data", "file", "vbscript", "blob", "about"] } }) { __typename ... on ValidationError { fieldErrors { path } } } }`);
    expect(schemes.body.data!.updateWorkspaceSettings.fieldErrors).toHaveLength(6);
    expect(await h.kit.herald.prisma.link.count()).toBe(stored);
    const viewer = await post(shop.secretKey, '{ viewer { settings { links { appSchemes } } } }');
    expect(viewer.body.data!.viewer.settings.links.appSchemes).toEqual([]);
    tally({ check: 'security: smart links redirect only to stored targets', attacks: attempts.length + refusals.length + 1, leaks: 0 });
  });

  it('reach no other workspace, and no publishable key', async () => {
    const other = await h.workspace('Other redirect shop');
    const theirs = (await createLink(other.secretKey, { url: 'https://other.example/private-offer' })).data!;
    await fetch(theirs.shortUrl, { headers: { 'user-agent': DESKTOP }, redirect: 'manual' });
    const markers = [theirs.id, theirs.code, 'private-offer'];
    const before = await h.kit.herald.prisma.link.findUniqueOrThrow({ where: { id: Buffer.from(theirs.id, 'base64').toString().split(':')[1]! } });

    const asSecret = [
      post(shop.secretKey, '{ links(first: 1000) { totalCount edges { node { id code url shortUrl } } } }'),
      post(shop.secretKey, 'query($id: ID!) { node(id: $id) { id ... on Link { url clicks } } }', { id: theirs.id }),
    ];
    const asPage = [
      post(shop.publishableKey, 'mutation { createLink(input: { url: "https://shop.example/" }) { __typename } }'),
      post(shop.publishableKey, '{ links(first: 10) { edges { node { id url } } } }'),
      post(shop.publishableKey, 'query($id: ID!) { node(id: $id) { id ... on Link { url } } }', { id: theirs.id }),
      post(shop.publishableKey, 'mutation { updateWorkspaceSettings(input: { links: { appSchemes: ["evil"] } }) { __typename } }'),
      post(other.publishableKey, '{ links(first: 10) { edges { node { id url } } } }'),
      post(other.publishableKey, 'query($id: ID!) { node(id: $id) { id ... on Link { url clicks } } }', { id: theirs.id }),
    ];
    const secretAnswers = await Promise.all(asSecret);
    const pageAnswers = await Promise.all(asPage);
    for (const answer of [...secretAnswers, ...pageAnswers]) expect(markers.filter((marker) => answer.text.includes(marker)), answer.text.slice(0, 300)).toEqual([]);
    expect(secretAnswers[1]!.body.data!.node).toBeNull();
    for (const answer of pageAnswers) expect(answer.body.errors?.[0]?.extensions?.code, answer.text).toBe('FORBIDDEN');
    const after = await h.kit.herald.prisma.link.findUniqueOrThrow({ where: { id: before.id } });
    expect(after).toEqual(before);
    expect(await h.kit.herald.prisma.link.count({ where: { workspaceId: before.workspaceId } })).toBe(1);
    tally({ check: 'security: smart links of another workspace, and a publishable key', attacks: asSecret.length + asPage.length, leaks: 0 });
  });
});
