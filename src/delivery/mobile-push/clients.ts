import type { Config } from '../../config.ts';
import { ApnsClient } from './apns.ts';
import { FcmClient } from './fcm.ts';
import { Http2Sessions } from './sessions.ts';

/** APNs and FCM over one set of HTTP/2 connections, kept for the life of the process. */
export class MobilePushClients {
  readonly sessions: Http2Sessions;
  readonly apns: ApnsClient;
  readonly fcm: FcmClient;

  constructor(config: ConstructorParameters<typeof Http2Sessions>[0], clock: () => number = Date.now) {
    this.sessions = new Http2Sessions(config);
    this.apns = new ApnsClient(this.sessions, clock);
    this.fcm = new FcmClient(this.sessions, clock);
  }

  close(): void {
    this.sessions.close();
  }
}

export type MobilePushConfig = Pick<Config, 'HERALD_PUSH_CA' | 'HERALD_PUSH_TIMEOUT_MS' | 'HERALD_MOBILE_PUSH_ALLOWED_HOSTS'>;
