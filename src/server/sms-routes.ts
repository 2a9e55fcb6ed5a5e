import type { IncomingMessage, ServerResponse } from 'node:http';
import { isFinalReport, recordSmsReport } from '../delivery/sms/callbacks.ts';
import { recordInboundSms } from '../delivery/sms/inbound.ts';
import { isSignedBy } from '../delivery/sms/signature.ts';
import type { Herald } from '../herald-context.ts';
import { smsCredentialsOf } from '../workspaces/sms-settings.ts';
import { readBodyWithin } from './body.ts';

const MAX_CALLBACK_BYTES = 64 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROUTE = /^\/sms\/(status|inbound)\/([^/]+)$/;

/**
 * `POST /sms/status/<workspaceId>?m=<messageId>` (status callbacks) and `POST /sms/inbound/<workspaceId>`
 * (messages people text in). Both must carry the provider's X-Twilio-Signature over the URL as
 * the provider called it (HERALD_PUBLIC_URL and the path) and the form: unsigned or wrongly signed
 * requests get 403 and change nothing. Answers the route's name, or null when the path is not one.
 */
export async function handleSmsCallback(herald: Herald, req: IncomingMessage, res: ServerResponse, path: string): Promise<string | null> {
  const match = ROUTE.exec(path);
  if (!match) return null;
  const [, kind, workspaceId] = match as unknown as [string, 'status' | 'inbound', string];
  const route = `sms-${kind}`;
  if (req.method !== 'POST') {
    req.resume();
    return text(res, 405, 'use POST', route, { allow: 'POST' });
  }
  const raw = await readBodyWithin(req, MAX_CALLBACK_BYTES);
  if (raw === null) return text(res, 413, 'too large', route, { connection: 'close' });
  const workspace = UUID.test(workspaceId)
    ? await herald.prisma.workspace.findUnique({ where: { id: workspaceId }, select: { id: true, smsSettings: true, smsAuthToken: true } })
    : null;
  const account = workspace ? await smsCredentialsOf(herald, workspace) : null;
  const params = new URLSearchParams(raw.toString('utf8'));
  const signature = req.headers['x-twilio-signature'];
  // One answer for an unknown workspace and a bad signature: nothing tells them apart.
  if (!account || !isSignedBy(account.authToken, `${herald.publicUrl}${req.url}`, params, typeof signature === 'string' ? signature : undefined)) {
    herald.log.warn({ workspaceId, route }, 'SMS callback refused: missing or wrong X-Twilio-Signature');
    return text(res, 403, 'invalid signature', route);
  }
  if (kind === 'status') {
    const messageId = new URL(req.url ?? '/', 'http://x').searchParams.get('m');
    const status = params.get('MessageStatus') ?? params.get('SmsStatus');
    if (messageId && UUID.test(messageId) && isFinalReport(status)) await recordSmsReport(herald, workspaceId, messageId, status, params.get('ErrorCode'));
    return text(res, 200, '', route);
  }
  const outcome = await recordInboundSms(herald, workspaceId, params.get('From') ?? '', params.get('Body') ?? '');
  const reply = outcome.keyword === 'HELP' ? `<Message>${escapeXml(outcome.reply)}</Message>` : '';
  res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' }).end(`<?xml version="1.0" encoding="UTF-8"?><Response>${reply}</Response>`);
  return route;
}

function text(res: ServerResponse, status: number, body: string, route: string, headers: Record<string, string> = {}): string {
  res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end(body);
  return route;
}

function escapeXml(value: string): string {
  return value.replace(/[<>&'"]/g, (char) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[char]!);
}
