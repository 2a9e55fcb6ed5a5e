-- An email's ledger row records the address it was sent to (written by its claim), so a late
-- bounce, complaint or unsubscribe about an address the contact has since changed leaves the new
-- one alone. The first complaint and unsubscribe about a message are stamped on it: one about an
-- old address still counts once for the campaign. Existing rows keep NULL (today's behaviour).
ALTER TABLE "Message" ADD COLUMN     "complainedAt" TIMESTAMPTZ(3),
ADD COLUMN     "sentTo" TEXT,
ADD COLUMN     "unsubscribedAt" TIMESTAMPTZ(3);
