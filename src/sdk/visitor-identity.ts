/**
 * Who the visitor is, kept where the service worker can read it (it has no local storage): the
 * page writes the customer's externalId and identity token after `identify`, and the worker's
 * `pushsubscriptionchange` names them with it. With identity verification on, Herald refuses
 * the anonymousId of a visitor who became a customer. The token is in the page's script already,
 * and IndexedDB is the site's own origin.
 */

export interface VisitorIdentity {
  externalId: string;
  identityToken?: string | undefined;
}

const STORE = 'identity';
const KEY = 'visitor';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open('herald-identity', 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function inStore<T>(mode: IDBTransactionMode, use: (store: IDBObjectStore) => IDBRequest | undefined): Promise<T | undefined> {
  const db = await open();
  try {
    const transaction = db.transaction(STORE, mode);
    const request = use(transaction.objectStore(STORE));
    await new Promise<void>((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onerror = transaction.onabort = () => reject(transaction.error);
    });
    return request?.result as T | undefined;
  } finally {
    db.close();
  }
}

/** Stores the customer this browser is (or, given nothing, forgets them); never fails the page's call. */
export function shareIdentity(identity: VisitorIdentity | null): Promise<void> {
  return inStore<void>('readwrite', (store) => (identity ? store.put({ externalId: identity.externalId, identityToken: identity.identityToken }, KEY) : store.delete(KEY))).then(
    () => undefined,
    () => undefined, // IndexedDB unavailable: the page registers a changed subscription on the next visit
  );
}

/** The customer the page said this browser is, if any. */
export function sharedIdentity(): Promise<VisitorIdentity | undefined> {
  return inStore<VisitorIdentity>('readonly', (store) => store.get(KEY)).catch(() => undefined);
}
