import { builder } from './builder.ts';
import './errors.ts';
import '../workspaces/schema.ts';
import '../contacts/schema.ts';
import '../contacts/mutations.ts';
import '../contacts/device-schema.ts';
import '../segments/schema.ts';
import '../campaigns/schema.ts';
import '../campaigns/mutations.ts';
import '../campaigns/live.ts';
import '../delivery/schema.ts';
import '../delivery/live.ts';
import '../tracking/schema.ts';
import '../tracking/mutations.ts';
import '../analytics/schema.ts';
import '../journeys/schema.ts';
import '../journeys/simulate-schema.ts';

export const schema = builder.toSchema({ sortSchema: true });
