-- A contact's messages of one campaign, read by key: trigger entry's eligibility check ("none of
-- this campaign's messages waits for the contact, none was sent too recently"), exception events
-- and conversions. Without it the planner's generic plan ANDed two bitmaps, one of them every
-- message of the campaign, so each probe read more the longer a triggered campaign ran (1,850
-- index entries per probe after 40,000 events in bench/public-path.ts). It replaces the
-- (contactId, createdAt) index, which nothing reads by its second column: contactId alone (a
-- contact's merge, its cascade delete) reads this one as well, at no extra cost per insert.
DROP INDEX "Message_contactId_createdAt_idx";
CREATE INDEX "Message_contactId_campaignId_idx" ON "Message"("contactId", "campaignId");
