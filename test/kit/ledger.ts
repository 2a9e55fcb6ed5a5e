/**
 * SQL over `"Message" m`: the ledger rows that record their message went out more than once, the
 * only ones a provider may rightly have seen twice: the resend of a claim a kill cut
 * (RESENT_AFTER_CRASH), or a retry after a request got no answer in time, which may have arrived
 * (each claim counts an attempt). A web push repeat carries the same tag, shown once.
 */
export const SENT_AGAIN = `(m.reason = 'RESENT_AFTER_CRASH' OR m.attempts > 1)`;
