-- CreateEnum
CREATE TYPE "Audience" AS ENUM ('IDENTIFIED', 'ANONYMOUS', 'ALL');

-- CreateTable
CREATE TABLE "Segment" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "rule" JSONB NOT NULL,
    "audience" "Audience" NOT NULL DEFAULT 'ALL',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Segment_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Segment_workspaceId_createdAt_idx" ON "Segment"("workspaceId", "createdAt");

-- CreateIndex
CREATE INDEX "Contact_workspaceId_lastSeenAt_idx" ON "Contact"("workspaceId", "lastSeenAt");

-- CreateIndex
CREATE INDEX "Event_contactId_name_occurredAt_idx" ON "Event"("contactId", "name", "occurredAt");

-- AddForeignKey
ALTER TABLE "Segment" ADD CONSTRAINT "Segment_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Segment rules compare ISO 8601 strings in attributes and event properties as instants. A value
-- that only looks like a date (2024-02-30) must not fail the whole query, so a bad one is NULL.
-- Zone-less values are read as UTC, as Herald's rule compiler and JavaScript do.
CREATE FUNCTION herald_timestamptz(value text) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF value !~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?)?$' THEN
    RETURN NULL;
  END IF;
  IF value ~ '^\d{4}-\d{2}-\d{2}$' THEN
    value := value || 'T00:00:00Z';
  ELSIF value !~ '(Z|[+-]\d{2}:?\d{2})$' THEN
    value := value || 'Z';
  END IF;
  RETURN value::timestamptz;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$$;
