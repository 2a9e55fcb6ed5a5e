import type { ReactNode } from 'react';
import { CampaignEditor } from './pages/campaign-editor.tsx';
import { CampaignPage } from './pages/campaign.tsx';
import { Campaigns } from './pages/campaigns.tsx';
import { ContactPage } from './pages/contact.tsx';
import { Contacts } from './pages/contacts.tsx';
import { Links } from './pages/links.tsx';
import { JourneyEditor } from './pages/journey-editor.tsx';
import { JourneyPage } from './pages/journey.tsx';
import { Journeys } from './pages/journeys.tsx';
import { Overview } from './pages/overview.tsx';
import { SegmentEditor } from './pages/segment-editor.tsx';
import { Segments } from './pages/segments.tsx';
import { Settings } from './pages/settings.tsx';

export interface Route {
  path: string;
  render: (params: Record<string, string>) => ReactNode;
  /** Shown in the navigation under this label. */
  nav?: string;
}

/**
 * Every page of the signed-in app, first match wins. A feature adds its pages here; those with a
 * `nav` label appear in the navigation.
 */
export const ROUTES: Route[] = [
  { path: '/', nav: 'Overview', render: () => <Overview /> },
  { path: '/campaigns', nav: 'Campaigns', render: () => <Campaigns /> },
  { path: '/campaigns/new', render: () => <CampaignEditor /> },
  { path: '/campaigns/:id/edit', render: ({ id }) => <CampaignEditor id={id} /> },
  { path: '/campaigns/:id', render: ({ id }) => <CampaignPage id={id!} /> },
  { path: '/segments', nav: 'Segments', render: () => <Segments /> },
  { path: '/segments/new', render: () => <SegmentEditor /> },
  { path: '/segments/:id', render: ({ id }) => <SegmentEditor id={id} /> },
  { path: '/journeys', nav: 'Journeys', render: () => <Journeys /> },
  { path: '/journeys/new', render: () => <JourneyEditor /> },
  { path: '/journeys/:id/edit', render: ({ id }) => <JourneyEditor id={id} /> },
  { path: '/journeys/:id', render: ({ id }) => <JourneyPage id={id!} /> },
  { path: '/contacts', nav: 'Contacts', render: () => <Contacts /> },
  { path: '/contacts/:id', render: ({ id }) => <ContactPage id={id!} /> },
  { path: '/links', nav: 'Links', render: () => <Links /> },
  { path: '/settings', nav: 'Settings', render: () => <Settings /> },
];
