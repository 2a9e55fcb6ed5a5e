-- DropIndex
DROP INDEX "Event_workspaceId_name_occurredAt_idx";

-- CreateIndex
CREATE INDEX "Event_workspaceId_name_occurredAt_contactId_idx" ON "Event"("workspaceId", "name", "occurredAt", "contactId");
