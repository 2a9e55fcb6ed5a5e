import webpush from 'web-push';
import { z } from 'zod';
import type { Prisma } from '../db/prisma.ts';
import { ErrorCode, fromZodIssues, NotFoundError } from '../errors.ts';
import type { Workspace } from '../generated/prisma/client.ts';
import type { Herald } from '../herald-context.ts';
import { newKey } from './api-keys.ts';
import { checkSmtpHost, emailSettingsData } from './email-settings.ts';
import { linkSettingsData } from './link-settings.ts';
import { checkMobilePushHosts, mobilePushSettingsData } from './mobile-push-settings.ts';
import { checkSmsHost, smsSettingsData } from './sms-settings.ts';
import { newIdentitySecret, newTrackingSecret, newWebhookSecret } from './secrets.ts';
import { type FrequencyCap, type SettingsInput, settingsInput } from './settings.ts';

export type { Workspace };

const workspaceInput = z.object({ name: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters') });

/** Creates a workspace with its own VAPID key pair and one secret and one publishable key. */
export async function createWorkspace(herald: Herald, input: { name: string }) {
  const parsed = workspaceInput.safeParse(input);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  const vapid = webpush.generateVAPIDKeys();
  const secret = newKey('SECRET');
  const publishable = newKey('PUBLISHABLE');
  const workspace = await herald.prisma.workspace.create({
    data: {
      name: parsed.data.name,
      vapidPublicKey: vapid.publicKey,
      vapidPrivateKey: herald.secrets.seal(vapid.privateKey),
      trackingSecret: herald.secrets.seal(newTrackingSecret()),
      identitySecret: herald.secrets.seal(newIdentitySecret()),
      webhookSigningSecret: herald.secrets.seal(newWebhookSecret()),
      apiKeys: {
        create: [
          { kind: 'SECRET', prefix: secret.prefix, hash: secret.hash },
          { kind: 'PUBLISHABLE', prefix: publishable.prefix, hash: publishable.hash },
        ],
      },
    },
  });
  herald.log.info({ workspaceId: workspace.id }, 'workspace created');
  return { workspace, secretKey: secret.key, publishableKey: publishable.key };
}

export async function getWorkspace(herald: Herald, id: string): Promise<Workspace> {
  const workspace = await herald.prisma.workspace.findUnique({ where: { id } });
  if (!workspace) throw new NotFoundError(ErrorCode.workspaceNotFound, 'Workspace not found');
  return workspace;
}

export function listWorkspaces(herald: Herald): Promise<Workspace[]> {
  return herald.prisma.workspace.findMany({ orderBy: { createdAt: 'asc' } });
}

/** Validates the whole input first, so a bad value changes nothing. */
export async function updateWorkspaceSettings(herald: Herald, workspaceId: string, input: SettingsInput): Promise<Workspace> {
  const parsed = settingsInput.safeParse(input);
  if (!parsed.success) throw fromZodIssues(parsed.error.issues, ['input']);
  const { timezone, quietHours, frequencyCaps, consentTag, requireIdentityVerification, controlGroupPercent, email, apns, fcm, sms, links } = parsed.data;
  await checkSmtpHost(herald, email);
  checkMobilePushHosts(herald, { apns, fcm });
  checkSmsHost(herald, sms);
  const data = {
    timezone,
    consentTag,
    frequencyCaps,
    requireIdentityVerification,
    controlGroupPercent,
    linkSettings: linkSettingsData(links) as Prisma.InputJsonObject | undefined,
    ...(quietHours === undefined
      ? {}
      : { quietHoursStart: quietHours?.start ?? null, quietHoursEnd: quietHours?.end ?? null }),
  };
  const workspace =
    email === undefined && apns === undefined && fcm === undefined && sms === undefined
      ? await herald.prisma.workspace.update({ where: { id: workspaceId }, data })
      : await herald.prisma.$transaction(async (tx) => {
          // Email, mobile push and SMS settings merge into what is stored: the row lock keeps two saves from losing each other's fields.
          const [current] = await tx.$queryRaw<Pick<Workspace, 'emailSettings' | 'dkimPrivateKey' | 'mobilePushSettings' | 'apnsPrivateKey' | 'fcmServiceAccount' | 'smsSettings' | 'smsAuthToken'>[]>`
            SELECT "emailSettings", "dkimPrivateKey", "mobilePushSettings", "apnsPrivateKey", "fcmServiceAccount", "smsSettings", "smsAuthToken" FROM "Workspace" WHERE id = ${workspaceId}::uuid FOR UPDATE`;
          if (!current) throw new NotFoundError(ErrorCode.workspaceNotFound, 'Workspace not found');
          const mobile = {
            ...(apns === undefined && fcm === undefined ? {} : mobilePushSettingsData(herald, current, { apns, fcm })),
            ...(sms === undefined ? {} : smsSettingsData(herald, current, sms)),
          };
          if (email === undefined) return tx.workspace.update({ where: { id: workspaceId }, data: { ...data, ...mobile } });
          const { emailSettings, ...sealed } = emailSettingsData(herald, current, email);
          return tx.workspace.update({ where: { id: workspaceId }, data: { ...data, ...mobile, ...sealed, emailSettings: emailSettings as Prisma.InputJsonObject } });
        });
  // Which email fields changed, never their values.
  if (email !== undefined) herald.log.info({ workspaceId, email: email === null ? 'cleared' : Object.keys(email) }, 'workspace email settings changed');
  for (const [name, value] of Object.entries({ apns, fcm, sms })) {
    if (value !== undefined) herald.log.info({ workspaceId, [name]: value === null ? 'cleared' : Object.keys(value) }, `workspace ${name} settings changed`);
  }
  herald.cache.settingsChanged(workspaceId);
  herald.events.publish('workspace:changed', workspaceId, { reason: 'settings_updated' });
  return workspace;
}

export function frequencyCapsOf(workspace: Workspace): FrequencyCap[] {
  return workspace.frequencyCaps as unknown as FrequencyCap[];
}
