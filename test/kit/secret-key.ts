/**
 * The HERALD_SECRET_KEY every Herald the kit starts uses unless a test names another: tests that
 * start a second Herald (another role, a restart) on the same database with a data folder of its
 * own would otherwise each generate a different key and refuse to open the first one's secrets.
 */
export const TEST_SECRET_KEY = 'dGVzdC1vbmx5LWtleS1mb3ItaGVyYWxkLXRlc3RzISE=';
