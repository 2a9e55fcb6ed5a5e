-- A gathered batch of browser events may send its insert before the contacts' statement ahead of
-- it answers (src/tracking/events.ts, writeAhead): the insert finds each event's contact by the
-- name the event gave, and calls this for one it cannot find (an unknown contactId). The error
-- rolls the transaction back (its COMMIT answers ROLLBACK), and Herald writes the batch again, one
-- statement after another, which answers that event with its own error.
CREATE FUNCTION herald_contact_not_found() RETURNS uuid
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'an event names a contact the batch''s contacts statement neither found nor created' USING ERRCODE = 'HR002';
END
$$;
