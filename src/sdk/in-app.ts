/**
 * On-site messages in the page (issue #23): a banner across the top, a modal dialog or a slide-in
 * card, drawn in a shadow root so the site's CSS neither breaks it nor leaks out of it. Every text
 * is written with textContent (never as HTML); buttons are real links, answers real buttons. The
 * site styles it through CSS custom properties set on any ancestor, e.g. `:root { --herald-accent: #0a7 }`:
 * --herald-bg, --herald-fg, --herald-muted, --herald-accent, --herald-accent-fg, --herald-radius,
 * --herald-font, --herald-shadow, --herald-z.
 *
 * Accessible: a modal is role=dialog with aria-modal, takes focus (kept inside while it is open)
 * and gives it back when it closes; Escape closes any layout; a banner is fixed, so the page
 * does not move under the visitor.
 */

export interface InAppQuestion {
  kind: 'NPS' | 'STARS' | 'THUMBS' | 'CHOICE';
  text: string;
  choices: string[] | null;
  freeText: boolean;
  answers: string[];
}

export interface InAppMessage {
  token: string;
  layout: 'BANNER' | 'MODAL' | 'SLIDE_IN';
  title: string | null;
  body: string | null;
  imageUrl: string | null;
  buttons: { label: string; url: string }[];
  question: InAppQuestion | null;
  expiresAt: string;
}

/** What the page does with the visitor's actions: report them to Herald. */
export interface InAppActions {
  displayed(message: InAppMessage): void;
  clicked(message: InAppMessage): void;
  closed(message: InAppMessage): void;
  /** Answers whether Herald took the answer. */
  answered(message: InAppMessage, answer: string, text: string | undefined): Promise<boolean>;
}

const THANKS_MS = 1_500;

export const CSS = `
:host { all: initial; }
.box {
  position: fixed; z-index: var(--herald-z, 2147483000); box-sizing: border-box;
  font: 15px/1.45 var(--herald-font, system-ui, -apple-system, "Segoe UI", sans-serif);
  color: var(--herald-fg, #111827); background: var(--herald-bg, #fff);
  border-radius: var(--herald-radius, 12px); box-shadow: var(--herald-shadow, 0 10px 40px rgba(0, 0, 0, .25));
  padding: 20px 44px 20px 20px; overflow-wrap: anywhere;
}
.box:focus { outline: none; }
.banner { top: 0; left: 0; right: 0; border-radius: 0 0 var(--herald-radius, 12px) var(--herald-radius, 12px); padding: 12px 48px 12px 16px;
  display: flex; flex-wrap: wrap; align-items: center; gap: 4px 16px; }
.banner .text { flex: 1 1 240px; }
.banner img { display: none; }
.modal { top: 50%; left: 50%; transform: translate(-50%, -50%); width: min(440px, calc(100vw - 32px)); max-height: calc(100vh - 32px); overflow: auto; }
.slide-in { right: 16px; bottom: 16px; width: min(360px, calc(100vw - 32px)); }
.backdrop { position: fixed; inset: 0; z-index: var(--herald-z, 2147483000); background: rgba(0, 0, 0, .45); }
@media (prefers-reduced-motion: no-preference) {
  .slide-in { animation: herald-in .25s ease-out; }
  @keyframes herald-in { from { transform: translateY(24px); opacity: 0; } }
}
h2 { margin: 0 0 4px; font-size: 1.1em; line-height: 1.3; }
p { margin: 0; }
img { display: block; max-width: 100%; border-radius: calc(var(--herald-radius, 12px) / 2); margin-bottom: 12px; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 12px; }
.banner .actions { margin-top: 0; }
a.button, button.answer, button.send {
  font: inherit; display: inline-block; padding: 8px 14px; border-radius: calc(var(--herald-radius, 12px) / 1.5);
  border: 1px solid var(--herald-accent, #1d4ed8); text-decoration: none; cursor: pointer; line-height: 1.2;
}
a.button, button.send { background: var(--herald-accent, #1d4ed8); color: var(--herald-accent-fg, #fff); }
a.button + a.button { background: transparent; color: var(--herald-accent, #1d4ed8); }
button.answer { background: transparent; color: var(--herald-fg, #111827); border-color: var(--herald-muted, #9ca3af); min-width: 2.4em; padding: 6px 8px; }
button.answer[aria-pressed="true"] { background: var(--herald-accent, #1d4ed8); border-color: var(--herald-accent, #1d4ed8); color: var(--herald-accent-fg, #fff); }
a:focus-visible, button:focus-visible, textarea:focus-visible { outline: 3px solid var(--herald-accent, #1d4ed8); outline-offset: 2px; }
.close { position: absolute; top: 8px; right: 8px; width: 32px; height: 32px; border: 0; border-radius: 50%; background: transparent;
  color: inherit; font: 22px/1 sans-serif; cursor: pointer; }
fieldset { border: 0; padding: 0; margin: 12px 0 0; min-width: 0; }
legend { padding: 0; margin-bottom: 8px; font-weight: 600; }
.answers { display: flex; flex-wrap: wrap; gap: 4px; }
.scale { display: flex; justify-content: space-between; font-size: .8em; color: var(--herald-muted, #6b7280); margin-top: 4px; }
label { display: block; margin-top: 10px; font-size: .9em; }
textarea { display: block; box-sizing: border-box; width: 100%; margin: 4px 0 8px; font: inherit; padding: 6px; border-radius: 6px;
  border: 1px solid var(--herald-muted, #9ca3af); color: var(--herald-fg, #111827); background: var(--herald-bg, #fff); }
`;

/** How each kind of question shows its answers: the text on the button and what a screen reader says. */
export function answerLabels(question: InAppQuestion, answer: string): { text: string; label: string } {
  switch (question.kind) {
    case 'STARS':
      return { text: '★', label: `${answer} star${answer === '1' ? '' : 's'}` };
    case 'THUMBS':
      return answer === 'up' ? { text: '👍', label: 'Thumbs up' } : { text: '👎', label: 'Thumbs down' };
    case 'NPS':
      return { text: answer, label: `${answer} out of 10` };
    default:
      return { text: answer, label: answer };
  }
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string>> = {}, text?: string | null): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) if (value !== undefined) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

/**
 * Shows one message and resolves once it is gone: closed (the close button or Escape), a button
 * followed, or its question answered.
 */
export function showInApp(message: InAppMessage, actions: InAppActions): Promise<void> {
  return new Promise((resolve) => {
    const host = element('div', { 'data-herald': 'in-app', 'data-layout': message.layout.toLowerCase() });
    const root = host.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = CSS;
    const modal = message.layout === 'MODAL';
    const box = element('div', {
      class: `box ${message.layout.toLowerCase().replace('_', '-')}`,
      role: message.layout === 'BANNER' ? 'region' : 'dialog',
      'aria-modal': modal ? 'true' : message.layout === 'SLIDE_IN' ? 'false' : undefined,
      'aria-label': message.title ?? message.body ?? 'Message',
      tabindex: '-1',
    });
    const previousFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    let finished = false;

    const finish = (report: 'closed' | 'clicked' | 'none') => {
      if (finished) return;
      finished = true;
      if (report === 'closed') actions.closed(message);
      if (report === 'clicked') actions.clicked(message);
      removeEventListener('keydown', onKey, true);
      host.remove();
      if (modal && previousFocus?.isConnected) previousFocus.focus();
      resolve();
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        event.stopPropagation();
        finish('closed');
      } else if (event.key === 'Tab' && modal) {
        trapFocus(event, root, box);
      }
    };

    const close = element('button', { type: 'button', class: 'close', 'aria-label': 'Close' }, '×');
    close.addEventListener('click', () => finish('closed'));
    const text = element('div', { class: 'text' });
    if (message.imageUrl) box.append(element('img', { src: message.imageUrl, alt: '' }));
    if (message.title) text.append(element('h2', {}, message.title));
    if (message.body) text.append(element('p', {}, message.body));
    box.append(text);
    if (message.question) box.append(questionBlock(message, actions, (ok) => setTimeout(() => finish(ok ? 'none' : 'closed'), THANKS_MS)));
    if (message.buttons.length) {
      const row = element('div', { class: 'actions' });
      for (const button of message.buttons) {
        const link = element('a', { class: 'button', href: button.url }, button.label);
        // After the click is handled, so the link is followed; the report leaves with keepalive, which the navigation does not cut off.
        link.addEventListener('click', () => setTimeout(() => finish('clicked')));
        row.append(link);
      }
      box.append(row);
    }
    box.append(close);
    root.append(style, ...(modal ? [element('div', { class: 'backdrop' })] : []), box);
    document.body.append(host);
    addEventListener('keydown', onKey, true);
    if (modal) (root.querySelector<HTMLElement>('a, button.answer') ?? box).focus();
    actions.displayed(message);
  });
}

/** Keeps Tab and Shift+Tab inside an open modal. */
function trapFocus(event: KeyboardEvent, root: ShadowRoot, box: HTMLElement): void {
  const focusable = [...box.querySelectorAll<HTMLElement>('a[href], button, textarea')];
  if (!focusable.length) return;
  const first = focusable[0]!;
  const last = focusable[focusable.length - 1]!;
  const active = root.activeElement;
  if (event.shiftKey && (active === first || !box.contains(active))) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (active === last || !box.contains(active))) {
    event.preventDefault();
    first.focus();
  }
}

/**
 * The question: one button per answer (NPS 0–10, five stars, thumbs, the choices). An answer goes
 * to Herald at once, or with the free text when the question offers it; then a thank-you, and
 * `done` (told whether Herald took it).
 */
function questionBlock(message: InAppMessage, actions: InAppActions, done: (ok: boolean) => void): HTMLElement {
  const question = message.question!;
  const block = element('fieldset');
  block.append(element('legend', {}, question.text));
  const answers = element('div', { class: 'answers' });
  let chosen: string | null = null;
  const extra = question.freeText ? freeTextBox() : null;

  const send = (answer: string) => {
    const text = extra?.textarea.value.trim() || undefined;
    void actions.answered(message, answer, text).then((ok) => {
      block.replaceChildren(element('p', { role: 'status' }, 'Thank you!'));
      done(ok);
    });
  };
  for (const answer of question.answers) {
    const { text, label } = answerLabels(question, answer);
    const button = element('button', { type: 'button', class: 'answer', 'aria-label': label, 'aria-pressed': 'false', 'data-answer': answer }, text);
    button.addEventListener('click', () => {
      chosen = answer;
      for (const other of answers.querySelectorAll('button')) other.setAttribute('aria-pressed', String(other === button));
      if (!extra) send(answer);
      else extra.wrapper.hidden = false;
    });
    answers.append(button);
  }
  block.append(answers);
  if (question.kind === 'NPS') {
    const scale = element('div', { class: 'scale', 'aria-hidden': 'true' });
    scale.append(element('span', {}, 'Not likely'), element('span', {}, 'Very likely'));
    block.append(scale);
  }
  if (extra) {
    extra.submit.addEventListener('click', () => chosen !== null && send(chosen));
    block.append(extra.wrapper);
  }
  return block;
}

function freeTextBox() {
  const wrapper = element('div');
  wrapper.hidden = true;
  const id = `herald-text-${Math.random().toString(36).slice(2)}`;
  const label = element('label', { for: id }, 'Tell us more (optional)');
  const textarea = element('textarea', { id, rows: '3', maxlength: '1000' });
  const submit = element('button', { type: 'button', class: 'send' }, 'Send');
  wrapper.append(label, textarea, submit);
  return { wrapper, textarea, submit };
}
