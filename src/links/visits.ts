import { SCANNERS } from '../tracking/email-machines.ts';
import type { Device } from './targets.ts';

/**
 * What a request for a short link says about its visitor, from the User-Agent alone.
 *
 * Devices: an iPhone, iPad or iPod names itself; so does Android. iPadOS 13+ Safari asks for the
 * desktop site and sends a Mac's User-Agent ("Macintosh", no "iPad"): only a script on a page could
 * tell it by its touch screen, so a redirect sends such an iPad to the desktop target.
 *
 * Machines, whose visits are redirected but not counted: HEAD requests, no User-Agent, and known
 * crawlers, scanners and link-preview fetchers (chat apps and social sites fetch a link to show a
 * card before anyone clicks it). Named by their fetchers' own names: LinkedIn, Pinterest and
 * Snapchat open a person's click in an in-app browser whose User-Agent carries the app's name.
 */

const LINK_PREVIEWS = /facebookexternalhit|facebookcatalog|whatsapp|slack|telegram|discord|skypeuripreview|embedly|iframely|pinterestbot|vkshare|mastodon|snap url preview|linkedinbot|outbrain|quora link preview|redditbot|bingpreview|google-read-aloud|googleother|apis-google|feedfetcher|lighthouse|pingdom|uptimerobot/i;

export function deviceOf(userAgent: string | undefined): Device {
  const agent = userAgent ?? '';
  if (/\b(iPhone|iPad|iPod)\b/.test(agent)) return 'IOS';
  if (/\bAndroid\b/i.test(agent)) return 'ANDROID';
  return 'DESKTOP';
}

export function isMachine(method: string, userAgent: string | undefined): boolean {
  if (method === 'HEAD') return true;
  const agent = userAgent?.trim() ?? '';
  return agent === '' || SCANNERS.test(agent) || LINK_PREVIEWS.test(agent);
}
