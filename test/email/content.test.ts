import { describe, expect, it } from 'vitest';
import {
  compiledEmailOf,
  compileEmail,
  type EmailContent,
  emailContentInput,
  EmailContentError,
  type EmailToSend,
  type RenderedEmail,
} from '../../src/delivery/email/content.ts';
import { MJML_COMPILE_MS } from '../../src/delivery/email/mjml.ts';
import { RenderError } from '../../src/delivery/templates.ts';
import { newsletterMjml, newsletterPreheader, newsletterSubject } from '../../bench/email-newsletter.ts';
import { EMAIL_PATHS, openPixelUrl, unsubscribeUrl, verifyLinkSignature } from '../../src/delivery/email/links.ts';

/**
 * The email content module on its own: validation, MJML and Liquid compiled once, and what each
 * recipient's render makes of it (personalisation, tracked links, pixel, preheader, text part).
 */

const links = { token: 'AbCdEfGhIjKlMnOpQrStUv.wXyZ0123456789-_aBcD', publicUrl: 'https://herald.test', trackingSecret: 'tracking-secret' };
const fox = { contact: { id: 'c-1', firstName: 'Fox', email: 'fox@example.com' }, event: { name: 'purchase', properties: { item: 'Lamp' } } };

async function render(content: Partial<EmailContent>, scope: object = fox): Promise<RenderedEmail> {
  const compiled = await compileEmail({ subject: 'Hi', ...content } as EmailContent);
  const planned = compiled.assembles;
  const rendered = compiled.render(scope, links);
  // What a sender sends is the same email, whether its HTML is assembled (body-plan.ts) or rendered whole;
  // a plan that gave other bytes would be dropped (assembles turns false) on this first recipient.
  expect(sendable(compiled.renderToSend(scope, links))).toEqual(rendered);
  expect(compiled.assembles).toBe(planned);
  return rendered;
}

const sendable = (email: EmailToSend): RenderedEmail => ({ ...email, html: String(email.html) });

async function contentError(content: Partial<EmailContent>): Promise<EmailContentError> {
  const error = await compileEmail({ subject: 'Hi', ...content } as EmailContent).then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(EmailContentError);
  return error as EmailContentError;
}

/** The href values of the HTML's `<a>` tags, as written (entities still in). */
function hrefs(html: string): string[] {
  return [...html.matchAll(/<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)].map((match) => match[1] ?? match[2] ?? match[3]!);
}

/** What a tracked link names: its token, target and signature, or null for an untracked one. */
function click(href: string): { token: string; target: string; signature: string } | null {
  if (!URL.canParse(href.replaceAll('&amp;', '&'))) return null;
  const url = new URL(href.replaceAll('&amp;', '&'));
  if (url.origin !== links.publicUrl || !url.pathname.startsWith(EMAIL_PATHS.click)) return null;
  return { token: url.pathname.slice(EMAIL_PATHS.click.length), target: url.searchParams.get('u')!, signature: url.searchParams.get('s')! };
}

const mjmlEmail = (body: string) => `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
${body}
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

describe('validation', () => {
  const issues = (input: object) => {
    const result = emailContentInput.safeParse(input);
    return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  it('takes exactly one of mjml and html, with bounded sizes and a real reply-to address', () => {
    expect(issues({ subject: 'Hi', html: '<p>x</p>', replyTo: 'help@example.com', fromName: 'Shop' })).toEqual([]);
    expect(issues({ subject: 'Hi', mjml: '<mjml/>', html: '<p>x</p>' })).toEqual(['html: give either mjml or html, not both']);
    expect(issues({ subject: 'Hi' })).toEqual(['mjml: give mjml or html']);
    expect(issues({ subject: '  ', html: 'x' })).toEqual(['subject: must not be empty']);
    expect(issues({ subject: 'x'.repeat(501), html: 'x' })).toEqual(['subject: must be at most 500 characters']);
    expect(issues({ subject: 'Hi', preheader: 'x'.repeat(501), html: 'x' })).toEqual(['preheader: must be at most 500 characters']);
    expect(issues({ subject: 'Hi', html: 'x'.repeat(512 * 1024 + 1) })).toEqual(['html: must be at most 512 KB']);
    // Bytes, not characters: 200,000 three-byte characters are 600,000 bytes.
    expect(issues({ subject: 'Hi', mjml: '€'.repeat(200_000) })).toEqual(['mjml: must be at most 512 KB']);
    expect(issues({ subject: 'Hi', html: 'x', text: 'x'.repeat(256 * 1024 + 1) })).toEqual(['text: must be at most 256 KB']);
    expect(issues({ subject: 'Hi', html: 'x', fromName: 'x'.repeat(201) })).toEqual(['fromName: must be at most 200 characters']);
    expect(issues({ subject: 'Hi', html: 'x', fromName: 'Shop\r\nBcc: victim@example.com' })).toEqual(['fromName: must not contain line breaks or control characters']);
    expect(issues({ subject: 'Hi', html: 'x', replyTo: 'not an address' })).toEqual(['replyTo: must be an email address']);
    expect(issues({ subject: 'Hi', html: 'x', replyTo: 'a@example.com\r\nBcc: b@example.com' })).toEqual(['replyTo: must be an email address']);
  });

  it('points an MJML error at its line', async () => {
    const error = await contentError({ mjml: '<mjml>\n<mj-body>\n<mj-column><mj-text>x</mj-text></mj-column>\n</mj-body>\n</mjml>' });
    expect(error.path).toEqual(['mjml']);
    expect(error.message).toMatch(/^line 3: mj-column cannot be used inside mj-body/);
    expect((await contentError({ mjml: 'hello' })).message).toMatch(/^is not valid MJML/);
    const attribute = await contentError({ mjml: mjmlEmail('        <mj-text colour="red">x</mj-text>') });
    expect(attribute.message).toBe('line 5: Attribute colour is illegal');
  });

  it('points a Liquid syntax error at its field and line, also past the first 10,000 characters', async () => {
    const html = `<html><body>\n${'<p>filler paragraph</p>\n'.repeat(1000)}<p>{% if contact.vip %}VIP</p>\n</body></html>`;
    const error = await contentError({ html });
    expect(error.path).toEqual(['html']);
    expect(error.message).toBe('line 1002: tag {% if contact.vip %} not closed');
    expect((await contentError({ html: '<p>\n{{ contact.firstName | shout }}</p>' })).message).toBe('line 2: undefined filter: shout');
    expect((await contentError({ html: 'x', subject: 'Hi {{ contact.firstName ' })).path).toEqual(['subject']);
    expect((await contentError({ html: 'x', preheader: '{% endif %}' })).path).toEqual(['preheader']);
    expect((await contentError({ html: 'x', text: 'a\nb\n{% for %}' })).message).toMatch(/^line 3: /);
    // In MJML the line is the MJML's, not the compiled HTML's.
    const mjml = await contentError({ mjml: mjmlEmail('        <mj-text>\n          {{ contact.firstName | nope }}\n        </mj-text>') });
    expect([mjml.path, mjml.message]).toEqual([['mjml'], 'line 6: undefined filter: nope']);
  });

  it('says so when a template holds more Liquid than the sandbox parses at once', async () => {
    const html = `<body>${'<p>Hello {{ contact.firstName }}, your code is {{ contact.id }}</p>\n'.repeat(300)}</body>`;
    const error = await contentError({ html });
    expect([error.path, error.message]).toEqual([['html'], 'has 11700 characters of Liquid tags and values; the template sandbox parses at most 10,000 (with the text between them)']);
    // A newsletter's worth (a hundred values amid 50 KB of text) is far from it.
    expect((await compileEmail({ subject: 'Hi', html: html.split('\n').slice(0, 100).join('x'.repeat(500)) })).warnings).toEqual([]);
  });

  it('refuses templates that read files: Liquid include, render, layout and mj-include', async () => {
    for (const tag of ['include', 'render', 'layout']) {
      const error = await contentError({ html: `<p>a</p>\n{% ${tag} '/etc/passwd' %}` });
      expect([error.path, error.message]).toEqual([['html'], `line 2: {% ${tag} %} is not allowed: templates cannot read files`]);
    }
    expect((await contentError({ html: 'x', subject: "{% include 'secrets' %}" })).path).toEqual(['subject']);
    expect((await contentError({ html: 'x', text: "{% render 'secrets' %}" })).path).toEqual(['text']);
    const include = await contentError({ mjml: mjmlEmail('        <mj-include path="/etc/passwd" />') });
    expect([include.path, include.message]).toEqual([['mjml'], 'line 5: mj-include is not allowed: templates cannot read files']);
  });

  it('says when MJML would drop Liquid placed between its tags, and keeps it in mj-raw', async () => {
    const dropped = `<mjml>\n<mj-body>\n{% if contact.vip %}\n<mj-section><mj-column><mj-text>VIP</mj-text></mj-column></mj-section>\n{% endif %}\n</mj-body>\n</mjml>`;
    const error = await contentError({ mjml: dropped });
    expect(error.message).toBe('line 3: MJML leaves out {% if contact.vip %}; Liquid belongs in text, attribute values or <mj-raw>');
    const kept = dropped.replace('{% if contact.vip %}', '<mj-raw>{% if contact.vip %}</mj-raw>').replace('{% endif %}', '<mj-raw>{% endif %}</mj-raw>');
    const compiled = await compileEmail({ subject: 'Hi', mjml: kept });
    expect(compiled.render({ contact: { vip: true } }, links).html).toContain('VIP');
    expect(compiled.render({ contact: { vip: false } }, links).html).not.toContain('VIP');
  });
});

describe('personalisation', () => {
  it('renders subject, HTML and text over contact and event, and gives unsubscribe_url to every template', async () => {
    const email = await render({
      subject: 'Your {{ event.properties.item }}, {{ contact.firstName }}',
      html: '<html><body><p>Hello {{ contact.firstName | upcase }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>',
      text: 'Hello {{ contact.firstName }}\nUnsubscribe: {{ unsubscribe_url }}',
    });
    const unsubscribe = unsubscribeUrl(links.publicUrl, links.token);
    expect(email.subject).toBe('Your Lamp, Fox');
    expect(email.html).toContain('<p>Hello FOX</p>');
    expect(email.text).toBe(`Hello Fox\nUnsubscribe: ${unsubscribe}`);
    // The unsubscribe link is not a tracked redirect.
    expect(hrefs(email.html)).toEqual([unsubscribe]);
  });

  it('renders MJML compiled once, with the Liquid still in the compiled HTML for previews', async () => {
    const compiled = await compileEmail({
      subject: 'Hi',
      mjml: mjmlEmail('        <mj-text>Hello {{ contact.firstName | default: "there" }}</mj-text>\n        <mj-button href="https://shop.example.com/?c={{ contact.id }}">Shop</mj-button>'),
    });
    expect(compiled.html).toContain('Hello {{ contact.firstName | default: "there" }}');
    expect(compiled.warnings).toEqual([]);
    const forFox = compiled.render(fox, links);
    const forNobody = compiled.render({ contact: { id: 'c-2' } }, links);
    expect(forFox.html).toContain('Hello Fox');
    expect(forNobody.html).toContain('Hello there');
    expect(hrefs(forFox.html).map((href) => click(href)?.target)).toEqual(['https://shop.example.com/?c=c-1']);
    expect(hrefs(forNobody.html).map((href) => click(href)?.target)).toEqual(['https://shop.example.com/?c=c-2']);
  });

  it('escapes what values write into HTML, in every tag that writes; | raw writes trusted HTML as is', async () => {
    const hostile = { contact: { firstName: '<img src=x onerror=alert(1)>"\'&', tags: ['<b>', '<i>'], html: '<b>bold</b>' } };
    const email = await render(
      {
        html: [
          '<body>',
          '<p title="{{ contact.firstName }}">{{ contact.firstName }}</p>',
          '{% for tag in contact.tags %}<span>{{ tag }}</span>{% endfor %}',
          '{% if contact.firstName %}{% echo contact.firstName %}{% endif %}',
          '{% cycle contact.firstName, "b" %}',
          '{% liquid\necho contact.firstName\n%}',
          '{{ contact.html | raw }}',
          '{% raw %}<em>{{ not liquid }}</em>{% endraw %}',
          '</body>',
        ].join('\n'),
        text: 'Hi {{ contact.firstName }}',
      },
      hostile,
    );
    const escaped = '&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;';
    expect(email.html).toContain(`<p title="${escaped}">${escaped}</p>`);
    expect(email.html).toContain('<span>&lt;b&gt;</span><span>&lt;i&gt;</span>');
    expect(email.html.split(escaped).length - 1).toBe(5);
    expect(email.html).not.toContain('<img src=x');
    expect(email.html).toContain('<b>bold</b>');
    expect(email.html).toContain('<em>{{ not liquid }}</em>');
    // The text part is plain text: nothing to escape.
    expect(email.text).toBe(`Hi ${hostile.contact.firstName}`);
  });

  it('renders a long HTML exactly as written around its Liquid, whitespace control included', async () => {
    const filler = (n: number) => `<p>paragraph ${n} ${'lorem ipsum '.repeat(20)}</p>\n`;
    const html = `<body>\n${filler(1)}{%- if contact.firstName -%}\n   ${filler(2).repeat(100)}   \n{%- endif -%}\n${filler(3)}{{ contact.firstName }}</body>`;
    expect(html.length).toBeGreaterThan(20_000);
    const email = await render({ html });
    const expected = `<body>\n${filler(1).trimEnd()}${filler(2).repeat(100).trim()}${filler(3)}Fox</body>`;
    expect(email.html.replace(/<div style="display:none[^]*?<\/div>|<img src="[^"]*" width="1"[^>]*>/g, '')).toBe(expected);
  });
});

describe('the subject', () => {
  it('is one line, whatever the template or the contact holds: no header can be injected', async () => {
    const email = await render({
      subject: 'Hello {{ contact.firstName }}\r\n  and welcome\u2028',
      html: 'x',
    }, { contact: { firstName: 'Fox\r\nBcc: victim@example.com\r\n\r\n<html>' } });
    expect(email.subject).toBe('Hello Fox Bcc: victim@example.com <html> and welcome');
    expect(email.subject).not.toMatch(/[\r\n\u0000-\u001f]/);
  });
});

describe('tracked links', () => {
  const tracked = (html: string) => hrefs(html).map((href) => click(href));

  it('rewrites every web link to a signed redirect that verifies, and leaves the others alone', async () => {
    const email = await render({
      html: `<html><body>
        <a href="https://shop.example.com/a">a</a>
        <a href="http://shop.example.com/b?x=1">b</a>
        <a href="{{ unsubscribe_url }}">unsubscribe</a>
        <a href="{{ unsubscribe_url }}?from=footer">unsubscribe</a>
        <a href="mailto:help@example.com">mail</a>
        <a href="tel:+4930123">call</a>
        <a href="#top">top</a>
        <a href="https://shop.example.com/c" data-herald-track="false">not tracked</a>
        <a data-herald-track='FALSE' href='https://shop.example.com/d'>not tracked</a>
        <a href="javascript:alert(1)">js</a>
        <a href="https://exa mple.com:99999/">not a URL</a>
        <a name="anchor">no href</a>
        </body></html>`,
    });
    const all = hrefs(email.html);
    const clicks = tracked(email.html);
    expect(clicks.map((each) => each?.target ?? null)).toEqual(['https://shop.example.com/a', 'http://shop.example.com/b?x=1', null, null, null, null, null, null, null, null, null]);
    for (const each of clicks.filter((entry) => entry !== null)) {
      expect(each.token).toBe(links.token);
      expect(verifyLinkSignature(each.token, each.target, each.signature, links.trackingSecret)).toBe(true);
      expect(verifyLinkSignature(each.token, `${each.target}/evil`, each.signature, links.trackingSecret)).toBe(false);
    }
    const unsubscribe = unsubscribeUrl(links.publicUrl, links.token);
    expect(all.slice(2)).toEqual([
      unsubscribe,
      `${unsubscribe}?from=footer`,
      'mailto:help@example.com',
      'tel:+4930123',
      '#top',
      'https://shop.example.com/c',
      'https://shop.example.com/d',
      'javascript:alert(1)',
      'https://exa mple.com:99999/',
    ]);
  });

  it('decodes character references before signing and writes the redirect back escaped', async () => {
    const email = await render({
      html: '<a href="https://shop.example.com/?a=1&amp;b=2&#38;c=3&#x26;d=&quot;4&quot;&copy=5">x</a><a href="https://shop.example.com/?id={{ contact.id }}&amp;n={{ contact.firstName }}">y</a>',
    }, { contact: { id: 'a&b', firstName: 'Fox & "Co"' } });
    const [first, second] = hrefs(email.html);
    // &copy= without a semicolon stays as written, as a browser leaves it.
    expect(click(first!)?.target).toBe('https://shop.example.com/?a=1&b=2&c=3&d="4"&copy=5');
    expect(click(second!)?.target).toBe('https://shop.example.com/?id=a&b&n=Fox & "Co"');
    // In the HTML the redirect's own & is written &amp; and nothing unescaped leaks into the attribute.
    expect(first).toMatch(/^https:\/\/herald\.test\/e\/c\/[^"<>]*&amp;s=[\w-]+$/);
    expect(first).not.toMatch(/&(?!amp;)/);
    for (const href of [first!, second!]) {
      const each = click(href)!;
      expect(verifyLinkSignature(each.token, each.target, each.signature, links.trackingSecret)).toBe(true);
    }
  });

  it('reads href in any attribute order, case and quoting, and only on <a> tags', async () => {
    const email = await render({
      html: [
        '<A HREF="https://e.example/1">1</A>',
        "<a class='button' href='https://e.example/2'>2</a>",
        '<a href=https://e.example/3?x=1>3</a>',
        '<a\n  style="color:red"\n  target="_blank"\n  href = "https://e.example/4"\n>4</a>',
        '<a title="a > b" data-x=\'<a href="https://fake.example/">\' href="https://e.example/5">5</a>',
        '<a href="https://e.example/6" href="https://e.example/ignored">6</a>',
        '<a href="  https://e.example/7\n">7</a>',
        '<a/href="https://e.example/8">8</a>',
        '<a href="HTTPS://E.EXAMPLE/9">9</a>',
        '<abbr href="https://e.example/no">abbr</abbr>',
        '<area href="https://e.example/no">',
        '<link href="https://e.example/no">',
        '<img src="https://e.example/no.png">',
      ].join('\n'),
    });
    const targets = [...email.html.matchAll(/herald\.test\/e\/c\/[^"'\s>]+/g)].map((match) => click(`https://${match[0]}`)!.target);
    expect(targets).toEqual([1, 2, '3?x=1', 4, 5, 6, 7, 8].map((n) => `https://e.example/${n}`).concat('HTTPS://E.EXAMPLE/9'));
    expect(email.html).toContain('data-x=\'<a href="https://fake.example/">\'');
    expect(email.html).toContain('href="https://e.example/ignored"');
    for (const untouched of ['<abbr href="https://e.example/no">', '<area href="https://e.example/no">', '<link href="https://e.example/no">', '<img src="https://e.example/no.png">']) {
      expect(email.html).toContain(untouched);
    }
  });
});

describe('pixel and preheader', () => {
  const pixel = `<img src="${openPixelUrl(links.publicUrl, links.token)}" width="1" height="1" alt="" style="display:none">`;

  it('places the open pixel before </body>, or at the end without one', async () => {
    expect((await render({ html: '<html><body><p>x</p></body></html>' })).html).toBe(`<html><body><p>x</p>${pixel}</body></html>`);
    expect((await render({ html: '<HTML><BODY><p>x</p></BODY ></HTML>' })).html).toBe(`<HTML><BODY><p>x</p>${pixel}</BODY ></HTML>`);
    expect((await render({ html: '<p>x</p>' })).html).toBe(`<p>x</p>${pixel}`);
  });

  it('puts the rendered preheader, escaped and on one line, hidden right after <body…>', async () => {
    const email = await render({ html: '<html><body class="main" style="margin:0"><p>x</p></body></html>', preheader: 'Deals for {{ contact.firstName }}\n & <friends>' });
    expect(email.html).toMatch(/^<html><body class="main" style="margin:0"><div style="display:none;[^"]*">Deals for Fox &amp; &lt;friends&gt;(&#847;&zwnj;&nbsp;)+<\/div><p>x<\/p>/);
    expect((await render({ html: '<p>x</p>', preheader: 'Hi' })).html).toMatch(/^<div style="display:none;[^"]*">Hi(&#847;&zwnj;&nbsp;)+<\/div><p>x<\/p>/);
    expect((await render({ html: '<body><p>x</p></body>' })).html).toBe(`<body><p>x</p>${pixel}</body>`);
  });
});

describe('the text part', () => {
  it('is derived from the rendered HTML when not given: real URLs, readable, no pixel, preheader or images', async () => {
    const paragraph = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.';
    const email = await render({
      preheader: 'Hidden preview',
      html: `<html><head><title>T</title><style>p { color: red }</style></head><body>
        {% assign greeting = "Hello" %}
        <div style="display:none;font-size:1px">Hidden preview text of the template's own</div>
        <h1>{{ greeting }} {{ contact.firstName }}</h1>
        <p>${paragraph} ${paragraph}</p>
        <img src="https://cdn.example.com/banner.png" alt="Banner">
        <p>Tom &amp; Jerry &#123;&#123; are not Liquid &#125;&#125;</p>
        {% if contact.firstName %}<p>Your <a href="https://shop.example.com/?c={{ contact.id }}">offer</a></p>{% endif %}
        <p><a href="https://shop.example.com/{% if contact.vip %}vip{% else %}standard{% endif %}">Shop</a></p>
        <p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
        </body></html>`,
    });
    const unsubscribe = unsubscribeUrl(links.publicUrl, links.token);
    expect(email.text).toBe(
      [
        'Hello Fox',
        '',
        'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor',
        'incididunt ut labore et dolore magna aliqua. Lorem ipsum dolor sit amet,',
        'consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et',
        'dolore magna aliqua.',
        '',
        'Tom & Jerry {{ are not Liquid }}',
        '',
        'Your offer [https://shop.example.com/?c=c-1]',
        '',
        'Shop [https://shop.example.com/standard]',
        '',
        `Unsubscribe [${unsubscribe}]`,
      ].join('\n'),
    );
  });

  it('is converted for each recipient, with a warning, when the Liquid of the HTML cannot be carried into a text template', async () => {
    // The {% if %} sits in an attribute (text conversion drops it), its {% endif %} in the text.
    const compiled = await compileEmail({ subject: 'Hi', html: '<body><p title="{% if contact.vip %}">VIP {{ contact.firstName }}</p><p>{% endif %}Bye</p></body>' });
    expect(compiled.warnings).toEqual([expect.stringMatching(/^the text part could not be derived from the HTML once \(line 1: .*\), so it is converted for each recipient/)]);
    expect(compiled.render({ contact: { vip: true, firstName: 'Fox' } }, links).text).toBe('VIP Fox\n\nBye');
    // Without VIP the HTML is `<p title="Bye</p>`: all attribute, no text, and the text part says so.
    expect(compiled.render({ contact: { vip: false } }, links).text).toBe('');
  });

  it('is the text template when given, rendered as written', async () => {
    const email = await render({ html: '<p>ignored</p>', text: '  Hi {{ contact.firstName }},\n\n\n  see {{ unsubscribe_url }}\n' });
    expect(email.text).toBe(`  Hi Fox,\n\n\n  see ${unsubscribeUrl(links.publicUrl, links.token)}\n`);
  });
});

describe('the HTML assembled for sending', () => {
  // Values that would break a careless assembly: empty, spaces, quotes, ampersands, markup, non-ASCII.
  const contacts = [
    {},
    { firstName: 'Ada', lastName: 'Hofer', city: 'Graz', plan: 'gold', points: 600, externalId: 'reader-1', email: 'ada@mail.example' },
    { firstName: `A "q" & <b> 'x'`, city: ' ', plan: '', points: 10, externalId: 'x y&z"<', email: "o'hara@mail.example" },
    { firstName: 'Zoë €', city: 'Wien', points: 500, externalId: '' },
  ];

  async function bothWays(content: Partial<EmailContent>) {
    const compiled = await compileEmail({ subject: 'Hi {{ contact.firstName }}', ...content } as EmailContent);
    const planned = compiled.assembles;
    for (const contact of [...contacts, ...contacts]) {
      const scope = { contact, event: null };
      expect(sendable(compiled.renderToSend(scope, links))).toEqual(compiled.render(scope, links));
    }
    // A plan that had given other bytes than the full render would have been dropped on the first recipient.
    expect(compiled.assembles).toBe(planned);
    return planned;
  }

  it('is assembled for the benchmark newsletter, byte for byte the full render for every recipient', async () => {
    expect(await bothWays({ subject: newsletterSubject, preheader: newsletterPreheader, mjml: newsletterMjml })).toBe(true);
  });

  it('is assembled around values in text and quoted attributes, links with Liquid in them, blocks, loops and assigns', async () => {
    const html = `<html><head><style>a > b { color: red }</style></head><body class="{{ contact.plan }}">
      <p>Hi {{ contact.firstName | default: "there" }}{% if contact.city %} in {{ contact.city }}{% endif %}</p>
      {% assign ref = contact.externalId | upcase %}<b>{% for i in (1..2) %}{{ i }}, {% endfor %}</b>
      <a title='{{ contact.firstName }}' href="https://shop.example/p?ref={{ ref }}&amp;c={% if contact.city %}{{ contact.city }}{% else %}none{% endif %}">Shop</a>
      <A HREF=https://shop.example/plain>plain</A> <a href="mailto:x@y.example">mail</a> <a data-herald-track="false" href="https://shop.example/no">no</a>
      <a href="https://herald.test/l/abcdEFGH">short</a> <a href="{{ unsubscribe_url }}">unsubscribe</a>
      {%- if contact.points > 500 -%}  rich  {%- else -%} {{ 500 | minus: contact.points }} to go {%- endif -%}
    </body></html>`;
    expect(await bothWays({ html, preheader: 'Hello {{ contact.firstName }}' })).toBe(true);
    expect(await bothWays({ html: '<p>{{ contact.firstName }}</p><a href="https://x.example/">x</a>' })).toBe(true);
    expect(await bothWays({ html: '<p>no Liquid, no body</p>' })).toBe(true);
  });

  it('is rendered whole when a region could change the markup: raw values, tags, unquoted or tag-name places, blocks around tags', async () => {
    for (const html of [
      '<body>{{ contact.firstName | raw }}<a href="https://x.example/">x</a></body>',
      '<body><a href=https://x.example/{{ contact.externalId }}>x</a></body>',
      '<body><a{{ contact.city }} href="https://x.example/">x</a></body>',
      '<body>{% if contact.city %}<a href="https://x.example/">x</a>{% endif %}</body>',
      '<body><a data-herald-track="{{ contact.plan }}" href="https://x.example/">x</a></body>',
      "<body><a href='https://x.example/{% if contact.city %}it's{% endif %}'>x</a></body>",
      '<body><table>{% tablerow i in (1..2) %}{{ i }}{% endtablerow %}</table></body>',
    ]) {
      expect(await bothWays({ html })).toBe(false);
    }
  });
});

describe('budgets', () => {
  const fails = async (html: string) => {
    const compiled = await compileEmail({ subject: 'Hi', html });
    const started = performance.now();
    let error: unknown;
    try {
      compiled.render(fox, links);
    } catch (thrown) {
      error = thrown;
    }
    const ms = performance.now() - started;
    expect(error).toBeInstanceOf(RenderError);
    return { message: (error as Error).message, ms };
  };

  it('stops a template that doubles a string until memory runs out, quickly', async () => {
    const { message, ms } = await fails('{% assign s = "xxxxxxxxxxxxxxxx" %}{% for i in (1..64) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}{{ s }}');
    console.log(`memory attack stopped after ${ms.toFixed(1)} ms: ${message}`);
    expect(message).toMatch(/^html: .*(memory|longer than)/);
    expect(ms).toBeLessThan(2_000);
  });

  it('stops a template that loops for a long time, quickly', async () => {
    const { message, ms } = await fails('{% for a in (1..2000) %}{% for b in (1..2000) %}{% assign c = b %}{% endfor %}{% endfor %}');
    console.log(`time attack stopped after ${ms.toFixed(1)} ms: ${message}`);
    expect(message).toMatch(/^html: .*limit exceeded/);
    expect(ms).toBeLessThan(2_000);
  });

  it('fails a message whose subject renders far too long', async () => {
    const compiled = await compileEmail({ subject: '{{ contact.firstName }}', html: 'x' });
    expect(() => compiled.render({ contact: { firstName: 'x'.repeat(3_000) } }, links)).toThrow(new RenderError('subject', 'rendered to 3000 characters; at most 2000'));
  });
});

describe('the MJML thread', () => {
  it('ends a compile that holds it past its time limit, answered as a field error, and compiles the next save on a fresh thread', async () => {
    // Inlined CSS costs rules × elements: 3,000 rules over 8,000 elements (125 KB, the input takes
    // 512 KB) held the thread ~35 s, and every other save's MJML waited behind it.
    const css = Array.from({ length: 3000 }, (_, i) => `p.c${i} b{color:red}`).join('\n');
    const slow = `<mjml><mj-head><mj-style inline="inline">${css}</mj-style></mj-head><mj-body><mj-section><mj-column><mj-text><p class="c1">${'<b>x</b>'.repeat(8000)}</p></mj-text></mj-column></mj-section></mj-body></mjml>`;
    const started = performance.now();
    const refused = contentError({ mjml: slow });
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Another save's MJML, asked for while the slow one holds the thread.
    const other = compileEmail({ subject: 'Hi', mjml: mjmlEmail('        <mj-text>Hello {{ contact.firstName }}</mj-text>') }).then((compiled) => ({
      compiled,
      ms: performance.now() - started,
    }));
    const error = await refused;
    expect([error.path, error.message]).toEqual([['mjml'], `took more than ${MJML_COMPILE_MS / 1000} s to compile (inlined CSS costs its rules times the elements they are matched against)`]);
    const { compiled, ms } = await other;
    expect(compiled.render(fox, links).html).toContain('Hello Fox');
    // It waited for the time limit and a fresh thread (~1 s), not the whole slow compile.
    expect(ms).toBeLessThan(MJML_COMPILE_MS + 15_000);
  }, 60_000);
});

describe('warnings', () => {
  it('warns when the HTML, its links tracked, passes the size at which Gmail clips it', async () => {
    const link = '<p><a href="https://shop.example.com/products/1">A product</a></p>\n';
    // ~100,000 bytes as written: under the limit until its 1,000 links are tracked.
    const html = `<html><body>\n${link.repeat(1000)}${'x'.repeat(100_000 - link.length * 1000)}</body></html>`;
    const compiled = await compileEmail({ subject: 'Hi', html });
    expect(compiled.warnings).toHaveLength(1);
    expect(compiled.warnings[0]).toMatch(/^the HTML is about \d+ KB with its links tracked; Gmail clips messages over 102 KB/);
    expect(Number(/about (\d+) KB/.exec(compiled.warnings[0]!)![1])).toBeGreaterThan(150);
    expect((await compileEmail({ subject: 'Hi', html: '<p>small</p>' })).warnings).toEqual([]);
  });
});

describe('compiledEmailOf', () => {
  it('compiles a campaign once per version, and again when it changes', async () => {
    const content = { subject: 'Hi {{ contact.firstName }}', mjml: mjmlEmail('        <mj-text>Hello</mj-text>') };
    const campaign = { id: crypto.randomUUID(), updatedAt: new Date('2026-12-01T10:00:00Z'), content };
    const first = compiledEmailOf(campaign);
    expect(compiledEmailOf({ ...campaign })).toBe(first);
    const compiled = await first;
    expect(await compiledEmailOf({ ...campaign, updatedAt: new Date(campaign.updatedAt) })).toBe(compiled);
    expect(compiled.render(fox, links).subject).toBe('Hi Fox');

    const edited = { ...campaign, updatedAt: new Date('2026-12-01T10:05:00Z'), content: { ...content, subject: 'Hello {{ contact.firstName }}' } };
    const recompiled = await compiledEmailOf(edited);
    expect(recompiled).not.toBe(compiled);
    expect(recompiled.render(fox, links).subject).toBe('Hello Fox');
    expect(await compiledEmailOf(edited)).toBe(recompiled);
  });

  it('rejects content that no longer compiles with EmailContentError', async () => {
    const campaign = { id: crypto.randomUUID(), updatedAt: new Date(), content: { subject: 'Hi', html: '{% include "x" %}' } };
    await expect(compiledEmailOf(campaign)).rejects.toBeInstanceOf(EmailContentError);
  });
});

describe('performance', () => {
  /** A 20 KB MJML newsletter: a header, 10 stories with an image and a tracked button, a footer. */
  function newsletter(): string {
    const story = (n: number) => `
    <mj-section background-color="#ffffff" padding="24px 16px">
      <mj-column>
        <mj-image src="https://cdn.example.com/stories/${n}.jpg" alt="Story ${n}" width="568px" />
        <mj-text font-size="20px" font-weight="700" color="#222222">Story ${n}: picked for {{ contact.firstName | default: "you" }}</mj-text>
        <mj-text font-size="15px" line-height="1.6" color="#444444">
          Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna
          aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.
          Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint
          occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.
        </mj-text>
        <mj-text font-size="15px" line-height="1.6" color="#444444">
          Sed ut perspiciatis unde omnis iste natus error sit voluptatem accusantium doloremque laudantium, totam rem aperiam,
          eaque ipsa quae ab illo inventore veritatis et quasi architecto beatae vitae dicta sunt explicabo. Nemo enim ipsam
          voluptatem quia voluptas sit aspernatur aut odit aut fugit, sed quia consequuntur magni dolores eos qui ratione
          voluptatem sequi nesciunt. Neque porro quisquam est, qui dolorem ipsum quia dolor sit amet, consectetur, adipisci velit.
        </mj-text>
        <mj-divider border-width="1px" border-color="#eeeeee" />
        <mj-button href="https://shop.example.com/stories/${n}?utm_source=herald&amp;utm_medium=email&amp;c={{ contact.id }}" background-color="#0b7a4b" border-radius="4px">Read story ${n}</mj-button>
      </mj-column>
    </mj-section>`;
    return `<mjml>
  <mj-head>
    <mj-title>The weekly digest</mj-title>
    <mj-attributes><mj-all font-family="Helvetica, Arial, sans-serif" /></mj-attributes>
    <mj-style>.footer a { color: #888888; }</mj-style>
  </mj-head>
  <mj-body background-color="#f4f4f4">
    <mj-section background-color="#0b7a4b" padding="16px">
      <mj-column><mj-image src="https://cdn.example.com/logo-white.png" alt="Example Shop" width="160px" align="left" /></mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" padding="24px 16px">
      <mj-column>
        <mj-text font-size="26px" font-weight="700">Hello {{ contact.firstName | default: "there" }}, here is your week</mj-text>
        <mj-text font-size="15px" line-height="1.6" color="#444444">
          Ten stories our editors picked this week, from new arrivals to the lamps our readers asked about most. As always,
          the offers below are for subscribers only and end on Sunday at midnight. Happy reading, and see you next Thursday.
        </mj-text>
      </mj-column>
    </mj-section>
    ${Array.from({ length: 10 }, (_, n) => story(n + 1)).join('')}
    <mj-section padding="24px 16px">
      <mj-column>
        <mj-text css-class="footer" font-size="12px" line-height="1.5" color="#888888">
          You receive this email because you subscribed to the weekly digest of Example Shop. We send it once a week, on
          Thursday mornings, with the stories our editors picked for you and the offers of the week. Prices include VAT;
          offers are valid while stocks last and may differ in our stores. Example Shop GmbH, Musterstrasse 1, 10115 Berlin,
          Germany. Managing directors: Erika Mustermann, Max Mustermann. Registered at Amtsgericht Berlin-Charlottenburg,
          HRB 000000. VAT ID DE000000000. Questions about your order? Reply to this email or write to help@example.com;
          we answer within one working day. Changed your mind? <a href="{{ unsubscribe_url }}">Unsubscribe</a> with one
          click, and you will not hear from us again unless you subscribe once more. Our privacy notice explains what we
          store about you and for how long, and how to ask us for a copy or to delete it.
        </mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;
  }

  it('renders a 20 KB MJML newsletter with 10 links per recipient in well under a millisecond (logged, not asserted)', async () => {
    const mjml = newsletter();
    expect(mjml.length).toBeGreaterThan(20_000);
    const compileStarted = performance.now();
    const compiled = await compileEmail({ subject: 'Your week, {{ contact.firstName }}', preheader: '10 stories picked for {{ contact.firstName }}', mjml });
    const compileMs = performance.now() - compileStarted;

    const contacts = Array.from({ length: 2_000 }, (_, n) => ({ contact: { id: `c-${n}`, firstName: `Reader ${n}` }, event: null }));
    const times: number[] = [];
    let last: RenderedEmail | undefined;
    const cpu = process.cpuUsage();
    for (const scope of contacts) {
      const started = performance.now();
      last = compiled.render(scope, links);
      times.push(performance.now() - started);
    }
    const cpuUs = process.cpuUsage(cpu);
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1]! * 1000;
    const cpuPerMessage = (cpuUs.user + cpuUs.system) / contacts.length;
    console.log(
      `email render: ${mjml.length} chars of MJML compiled once in ${compileMs.toFixed(0)} ms to ${compiled.html.length} chars of HTML; ` +
        `per recipient ${median.toFixed(0)} µs median, ${(times[Math.floor(times.length * 0.9)]! * 1000).toFixed(0)} µs p90, ${cpuPerMessage.toFixed(0)} µs CPU (GC included) over ${contacts.length} renders ` +
        `(~${Math.floor(1e6 / median)} renders/s on one core)`,
    );

    const clicks = hrefs(last!.html).map((href) => click(href)).filter((each) => each !== null);
    expect(clicks.map((each) => each.target)).toEqual(
      Array.from({ length: 10 }, (_, n) => `https://shop.example.com/stories/${n + 1}?utm_source=herald&utm_medium=email&c=c-1999`),
    );
    expect(last!.subject).toBe('Your week, Reader 1999');
    expect(last!.text).toContain('Hello Reader 1999, here is your week');
    expect(last!.text).toContain('[https://shop.example.com/stories/10?utm_source=herald&utm_medium=email&c=c-1999]');
  });
});
