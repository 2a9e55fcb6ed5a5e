import { type DestinationStream, pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Structured JSON logs (to stdout, or `destination`). Secrets are redacted wherever they might appear. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'herald' },
    redact: {
      paths: [
        'authorization',
        '*.authorization',
        'headers.authorization',
        '*.headers.authorization',
        'secretKey',
        '*.secretKey',
        'publishableKey',
        '*.publishableKey',
        'key',
        '*.key',
        'token',
        '*.token',
        'adminToken',
        'vapidPrivateKey',
        '*.vapidPrivateKey',
        'trackingSecret',
        '*.trackingSecret',
        'identitySecret',
        '*.identitySecret',
        'webhookSigningSecret',
        '*.webhookSigningSecret',
        'webhookSigningSecretPrevious',
        '*.webhookSigningSecretPrevious',
        'HERALD_SECRET_KEY',
        '*.HERALD_SECRET_KEY',
        '*.*.HERALD_SECRET_KEY',
        'HERALD_SECRET_KEY_PREVIOUS',
        '*.HERALD_SECRET_KEY_PREVIOUS',
        '*.*.HERALD_SECRET_KEY_PREVIOUS',
        'password',
        '*.password',
        'smtpUrl',
        '*.smtpUrl',
        'HERALD_SMTP_URL',
        '*.HERALD_SMTP_URL',
        'privateKey',
        '*.privateKey',
        'dkimPrivateKey',
        '*.dkimPrivateKey',
        'authToken',
        '*.authToken',
        'smsAuthToken',
        '*.smsAuthToken',
        'apnsPrivateKey',
        '*.apnsPrivateKey',
        'fcmServiceAccount',
        '*.fcmServiceAccount',
      ],
      censor: '[redacted]',
    },
  } satisfies LoggerOptions;
  return destination ? pino(options, destination) : pino(options);
}
