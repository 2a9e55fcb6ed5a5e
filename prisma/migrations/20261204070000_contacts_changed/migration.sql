-- A gathered batch of browser events may go to PostgreSQL with the ids of its contacts as Herald
-- last learned them, and its insert right behind (src/contacts/resolve.ts, knownContacts). The
-- contacts' statement calls this when one of those ids no longer names its contact (a visitor
-- joined a customer, a contact was deleted): the error rolls the transaction back, and
-- Herald writes the batch again, finding its contacts first.
CREATE FUNCTION herald_contacts_changed() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a contact of this batch is not where Herald last found it' USING ERRCODE = 'HR002';
END
$$;
