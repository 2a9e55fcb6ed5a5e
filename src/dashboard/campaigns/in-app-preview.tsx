import { useEffect, useRef, useState } from 'react';
import { createPortal } from 'react-dom';
import { answerLabels, CSS } from '../../sdk/in-app.ts';
import type { InAppForm } from './form-state.ts';
import { sample } from './liquid-sample.ts';
import { answersOf, type QuestionForm } from './question.ts';

/**
 * The on-site message over a sketch of a page, drawn as the SDK draws it (src/sdk/in-app.ts): the
 * same markup and the same stylesheet in a shadow root. The stage is transformed, so the SDK's
 * `position: fixed` places the banner, modal or slide-in inside it rather than over the dashboard.
 * Inert: a picture of the message, nothing in it can be clicked or focused.
 */
export function InAppPreview({ inApp, question }: { inApp: InAppForm; question: QuestionForm }) {
  const host = useRef<HTMLDivElement>(null);
  const [root, setRoot] = useState<ShadowRoot>();
  useEffect(() => {
    if (host.current) setRoot(host.current.shadowRoot ?? host.current.attachShadow({ mode: 'open' }));
  }, []);
  const layout = inApp.layout.toLowerCase().replace('_', '-');
  const title = sample(inApp.title);
  const body = sample(inApp.body);
  const image = inApp.imageUrl.startsWith('https://') && !inApp.imageUrl.includes('{{') ? inApp.imageUrl : '';
  const asked = question.kind ? { kind: question.kind, text: question.text, choices: null, freeText: question.freeText, answers: answersOf(question) } : null;
  return (
    <figure className="in-app-preview" aria-labelledby="in-app-preview-caption">
      <figcaption id="in-app-preview-caption">Preview: the {layout} as the SDK shows it on your site</figcaption>
      <div className="in-app-stage" inert data-testid="in-app-preview">
        <div className="mock-page" aria-hidden="true">
          <span className="mock-nav" />
          <span className="mock-line wide" />
          <span className="mock-line" />
          <span className="mock-line wide" />
          <span className="mock-line" />
        </div>
        <div ref={host} />
        {root &&
          createPortal(
            <>
              <style>{CSS}</style>
              {inApp.layout === 'MODAL' && <div className="backdrop" />}
              <div className={`box ${layout}`}>
                {image && <img src={image} alt="" />}
                <div className="text">
                  {title && <h2>{title}</h2>}
                  {body && <p>{body}</p>}
                  {!title && !body && <p>Title or body</p>}
                </div>
                {asked && (
                  <fieldset>
                    <legend>{asked.text || 'Your question'}</legend>
                    <div className="answers">
                      {asked.answers.map((answer) => {
                        const { text, label } = answerLabels(asked, answer);
                        return (
                          <button key={answer} type="button" className="answer" aria-label={label} data-answer={answer}>
                            {text}
                          </button>
                        );
                      })}
                    </div>
                    {asked.kind === 'NPS' && (
                      <div className="scale">
                        <span>Not likely</span>
                        <span>Very likely</span>
                      </div>
                    )}
                  </fieldset>
                )}
                {inApp.buttons.length > 0 && (
                  <div className="actions">
                    {inApp.buttons.map((button, index) => (
                      <a key={index} className="button">
                        {sample(button.label) || `Button ${index + 1}`}
                      </a>
                    ))}
                  </div>
                )}
                <button type="button" className="close" aria-label="Close">
                  ×
                </button>
              </div>
            </>,
            root,
          )}
      </div>
      {asked && question.freeText && <p className="hint">After an answer, a box for a comment and a Send button appear.</p>}
    </figure>
  );
}
