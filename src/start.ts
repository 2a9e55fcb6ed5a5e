/**
 * `npm start`'s entry (dist/main.mjs). Libraries read NODE_ENV as they load: graphql-js, for one,
 * checks every instanceOf across realms unless it is "production" (~1.3% of a browser call's CPU).
 * Herald's own configuration takes an unset NODE_ENV for production, so the libraries are told the
 * same before the bundle (dist/herald.mjs, where they are imported) loads them.
 */
process.env.NODE_ENV ??= 'production';
await import(new URL('./herald.mjs', import.meta.url).href);
