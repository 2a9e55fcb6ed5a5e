-- A gathered batch of browser events may go to PostgreSQL with its trigger entry and COMMIT behind
-- it, built from what Herald last read of the workspace's listeners (src/tracking/events.ts). The
-- batch's insert reads the listeners again and, should they differ from what Herald assumed,
-- calls this: the error rolls the transaction back (its COMMIT answers ROLLBACK), and Herald
-- writes the batch again, one statement after another.
CREATE FUNCTION herald_listeners_changed() RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'what listens to these events changed since Herald read it' USING ERRCODE = 'HR001';
END
$$;
