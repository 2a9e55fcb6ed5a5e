-- Journeys at scale (issue #20 benchmark): the wait pass claims due enrolments in (wakeAt, id)
-- order, 2,000 a statement, going on from its last claim. With the index ending at wakeAt, a wave
-- due at one instant (everyone's 09:00) is one index key: every statement read and sorted the whole
-- wave (100,000 rows, spilling to disk) to take 2,000. With id in the key the claim walks the index
-- in order from its cursor and stops at 2,000. The pass changes neither column: its update stays heap-only.
DROP INDEX "JourneyEnrollment_status_wakeAt_idx";
CREATE INDEX "JourneyEnrollment_status_wakeAt_id_idx" ON "JourneyEnrollment"("status", "wakeAt", "id");
