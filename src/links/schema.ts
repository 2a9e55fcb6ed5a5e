import { builder } from '../graphql/builder.ts';
import { pagedById } from '../graphql/connections.ts';
import { workspaceIdOf } from '../graphql/context.ts';
import { createLink, shortUrlOf } from './service.ts';
import type { Device } from './targets.ts';

const LinkDeviceEnum = builder.enumType('LinkDevice', {
  description: 'The kind of device a click came from, read from its User-Agent (an iPad asking for desktop sites counts as DESKTOP).',
  values: ['IOS', 'ANDROID', 'DESKTOP'] as const,
});

const DeviceClicks = builder.objectRef<{ device: Device; clicks: number }>('LinkDeviceClicks').implement({
  fields: (t) => ({ device: t.expose('device', { type: LinkDeviceEnum }), clicks: t.exposeInt('clicks') }),
});

const LinkRef = builder.prismaNode('Link', {
  id: { field: 'id' },
  nullable: true,
  description: 'A smart link: its shortUrl sends each device to its own target, with UTM parameters, and counts who followed it.',
  findUnique: (id, context) => ({ id, workspaceId: workspaceIdOf(context) }),
  fields: (t) => ({
    code: t.exposeString('code'),
    shortUrl: t.string({
      description: "The address to share. In a message Herald renders (push, email), it gains the message's token, so its clicks name the contact.",
      resolve: (link, _args, context) => shortUrlOf(context.herald, link),
    }),
    url: t.exposeString('url', { description: 'Where desktops go, and phones without a target of their own or a fallback.' }),
    ios: t.exposeString('ios', { nullable: true, description: 'Where iPhones, iPads and iPods go: a web page, an App Store page or a deep link.' }),
    android: t.exposeString('android', { nullable: true, description: 'Where Android devices go: a web page, a Play Store page or a deep link.' }),
    fallback: t.exposeString('fallback', { nullable: true, description: 'Where a phone goes when it has no target of its own.' }),
    utm: t.expose('utm', { type: 'JSON', description: 'UTM parameters added to http(s) targets that do not carry them already.' }),
    clicks: t.exposeInt('clicks', { description: 'Clicks by people (crawlers, link previews and HEAD requests are not counted).' }),
    clicksByDevice: t.field({
      type: [DeviceClicks],
      resolve: (link): { device: Device; clicks: number }[] => [
        { device: 'IOS', clicks: link.iosClicks },
        { device: 'ANDROID', clicks: link.androidClicks },
        { device: 'DESKTOP', clicks: link.desktopClicks },
      ],
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  links: t.prismaConnection(
    {
      type: 'Link',
      cursor: 'id',
      description: "The workspace's smart links, oldest first.",
      totalCount: (_parent, _args, context) => context.herald.prisma.link.count({ where: { workspaceId: workspaceIdOf(context) } }),
      resolve: (query, _root, _args, context) => {
        const { page, after } = pagedById(query, 'asc');
        return context.herald.prisma.link.findMany({ ...page, where: { workspaceId: workspaceIdOf(context), ...after }, orderBy: { id: 'asc' } });
      },
    },
    { name: 'LinkConnection' },
    { name: 'LinkEdge' },
  ),
}));

builder.mutationFields((t) => ({
  createLink: t.fieldWithInput({
    type: LinkRef,
    description: 'A short link under Herald’s address that sends iOS, Android and desktop visitors to their own targets (http(s), or deep links in the app schemes of settings.links).',
    input: {
      url: t.input.string({ required: true, description: 'An absolute http(s) URL: where desktops go, and the default for phones.' }),
      ios: t.input.string({ description: 'http(s) (a page, a universal link, an App Store page) or a deep link in a registered app scheme.' }),
      android: t.input.string({ description: 'http(s) (a page, an App Link, a Play Store page) or a deep link in a registered app scheme.' }),
      fallback: t.input.string({ description: 'An absolute http(s) URL for a phone whose own target is not set.' }),
      utm: t.input.field({ type: 'JSON', description: '{ utm_source, utm_medium, utm_campaign, utm_term, utm_content }, each optional text.' }),
    },
    errors: {},
    resolve: (_root, { input }, context) => createLink(context.herald, workspaceIdOf(context), input),
  }),
}));
