-- Journeys at scale (issue #20 benchmark). An ended wait moves its enrolment to the next step
-- (seq, step, arrivedAt, ran) and leaves wakeAt as it was: with no index on `step`, that UPDATE
-- is a heap-only (HOT) one, writing no index entry, when its page has room, which fillfactor 70
-- keeps for it. The (journeyId, status, step) index went: the per-journey counts read a journey's
-- enrolments through (journeyId, contactId, enteredAt), and every enrolment insert and every
-- engine move wrote one index entry fewer.
DROP INDEX "JourneyEnrollment_journeyId_status_step_idx";
ALTER TABLE "JourneyEnrollment" SET (fillfactor = 70);
