import { builder } from './builder.ts';
import './errors.ts';
import '../workspaces/schema.ts';
import '../stats/schema.ts';
import '../contacts/schema.ts';
import '../contacts/mutations.ts';

export const schema = builder.toSchema({ sortSchema: true });
