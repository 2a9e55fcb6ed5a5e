/**
 * Whether a request for an email's open pixel or tracked link came from a machine rather than a
 * person: such opens are counted apart (`machineOpened`) and such clicks not at all, so `opened`,
 * `clicked` and the rates mean people. The one place this rule lives.
 *
 * Why each rule:
 *  - HEAD: a mail client showing an image or a person following a link sends GET; HEAD is a
 *    scanner checking that a URL answers.
 *  - Gmail's image proxy (`GoogleImageProxy`) fetches an image only when its user opens the mail
 *    (it does not prefetch), so it is a person, even early.
 *  - No User-Agent: every mail client, browser and provider proxy sends one.
 *  - A bare `Mozilla/5.0`: Apple Mail Privacy Protection's proxy, which fetches every image of
 *    every mail when it reaches the device, opened or not (Apple Mail itself sends a full agent).
 *  - Known scanners and HTTP libraries: security gateways (Proofpoint, Mimecast, Barracuda,
 *    Microsoft Safe Links/BingPreview, …) that follow every link and image of incoming mail.
 *  - Within MACHINE_WINDOW_MS of sending (or not yet marked sent): gateways scan a message as it
 *    arrives, seconds after it leaves; a person rarely opens it that fast, and such an open is
 *    still seen again later if the person really reads it.
 */
export const MACHINE_WINDOW_MS = 10_000;

const HUMAN_PROXIES = /GoogleImageProxy/i;
const APPLE_PRIVACY_PROXY = /^Mozilla\/5\.0$/;
export const SCANNERS =
  /bot\b|bot\/|crawl|spider|slurp|preview|scanner|headless|phantomjs|python-|curl\/|wget\/|go-http-client|java\/|okhttp|libwww|httpclient|axios|node-fetch|undici|barracuda|mimecast|proofpoint|urldefense|messagelabs|symantec|trendmicro|forcepoint|sophos|fireeye|zscaler|ironport|safelinks/i;

export interface Visit {
  method: string;
  userAgent: string | undefined;
}

export function isMachineVisit(visit: Visit, sentAt: Date | null, now = Date.now()): boolean {
  if (visit.method === 'HEAD') return true;
  const agent = visit.userAgent?.trim() ?? '';
  if (HUMAN_PROXIES.test(agent)) return false;
  if (agent === '' || APPLE_PRIVACY_PROXY.test(agent) || SCANNERS.test(agent)) return true;
  return sentAt === null || now - sentAt.getTime() < MACHINE_WINDOW_MS;
}
