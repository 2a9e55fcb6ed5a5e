import { decodeGlobalID } from '@pothos/plugin-relay';
import { type ErrorCode, NotFoundError } from '../errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The database id inside a global id of `typename`, or null when it is not one. */
export function localId(globalId: string, typename: string): string | null {
  try {
    const decoded = decodeGlobalID(globalId);
    return decoded.typename === typename && UUID.test(decoded.id) ? decoded.id : null;
  } catch {
    return null;
  }
}

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Like localId, but a malformed or foreign id is the same NotFoundError a missing row gives. */
export function requireLocalId(globalId: string, typename: string, code: ErrorCode): string {
  const id = localId(globalId, typename);
  if (!id) throw new NotFoundError(code, `No ${typename} with this id`);
  return id;
}
