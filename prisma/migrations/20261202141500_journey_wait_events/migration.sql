-- The events a version's waitForEvent steps wait for, copied out of the definition like
-- exitEvents: a batch of events none of them names skips the probe for waiting enrolments.
ALTER TABLE "JourneyVersion" ADD COLUMN "waitEvents" TEXT[] DEFAULT ARRAY[]::TEXT[];
UPDATE "JourneyVersion" v SET "waitEvents" = ARRAY(
  SELECT DISTINCT s->>'name' FROM jsonb_array_elements(v.definition->'steps') s WHERE s->>'kind' = 'waitForEvent' AND s->>'name' IS NOT NULL ORDER BY 1
);
