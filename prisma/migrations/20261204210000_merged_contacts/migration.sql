-- identifyContact deletes the visitor's contact it merges into a customer; a link that names the
-- visitor's id (a double opt-in confirmation mailed before the login) finds the customer here.
CREATE TABLE "MergedContact" (
    "id" UUID NOT NULL,
    "contactId" UUID NOT NULL,
    "mergedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "MergedContact_pkey" PRIMARY KEY ("id")
);

CREATE INDEX "MergedContact_contactId_idx" ON "MergedContact"("contactId");

ALTER TABLE "MergedContact" ADD CONSTRAINT "MergedContact_contactId_fkey" FOREIGN KEY ("contactId") REFERENCES "Contact"("id") ON DELETE CASCADE ON UPDATE CASCADE;
