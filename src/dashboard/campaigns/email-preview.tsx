/**
 * An HTML email as a mail app shows it, in a sandboxed frame: no script runs, nothing in it can
 * reach the dashboard. MJML is compiled by Herald when the campaign is saved, so it is not previewed.
 */
export function EmailPreview({ subject, preheader, html, mjml }: { subject: string; preheader: string; html: string; mjml: boolean }) {
  return (
    <div className="email-preview">
      <p>
        <strong>{subject || 'Subject'}</strong> <span className="hint">{preheader}</span>
      </p>
      {mjml ? (
        <p className="hint">MJML is compiled when the campaign is saved; send a test to see it in a mail app.</p>
      ) : (
        <iframe title="Email preview" sandbox="" srcDoc={html || '<p style="font-family:sans-serif;color:#555">The email’s HTML shows here.</p>'} />
      )}
    </div>
  );
}
