/**
 * Herald's own smart links (src/links) are `<publicUrl>/l/<code>`. A message that carries one is
 * personalised as it is rendered: the link gains `m=<the message's tracking token>`, so the click
 * is recorded with its contact and message. Declared here, below the links domain, because the
 * channels that render messages are the ones that rewrite the links.
 */
export const LINK_PATH = '/l/';
export const LINK_CODE = /^[A-Za-z0-9]{8}$/;

/** `url` with `m=<token>` when it is one of Herald's short links without one; else unchanged. */
export function withMessageToken(url: string, publicUrl: string, token: string): string {
  const prefix = `${publicUrl}${LINK_PATH}`;
  if (!url.startsWith(prefix)) return url;
  const rest = url.slice(prefix.length);
  const [path = '', query] = rest.split(/[?#]/, 2);
  if (!LINK_CODE.test(path) || new URLSearchParams(query ?? '').has('m') || rest.includes('#')) return url;
  return `${prefix}${path}?${query ? `${query}&` : ''}m=${token}`;
}

/**
 * The longest a push's link can be once rendered and given its message's token (`token`, of the
 * longest length), for the payload-size checks at save: a literal URL as withMessageToken will
 * leave it; a templated one (`filled`, its outputs at their worst case) may render to a short link,
 * so it gets room for `?m=<token>`.
 */
export function worstCaseLink(source: string, filled: string, publicUrl: string, token: string): string {
  return /\{\{|\{%/.test(source) ? `${filled}?m=${token}` : withMessageToken(filled, publicUrl, token);
}
