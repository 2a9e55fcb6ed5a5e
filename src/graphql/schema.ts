import { builder } from './builder.ts';
import './errors.ts';
import '../workspaces/schema.ts';
import '../stats/schema.ts';

export const schema = builder.toSchema({ sortSchema: true });
