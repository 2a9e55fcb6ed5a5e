-- CreateEnum
CREATE TYPE "CampaignKind" AS ENUM ('BROADCAST', 'TRIGGERED');

-- CreateEnum
CREATE TYPE "CampaignStatus" AS ENUM ('DRAFT', 'SCHEDULED', 'SENDING', 'SENT', 'ACTIVE', 'PAUSED', 'CANCELED', 'ARCHIVED');

-- CreateEnum
CREATE TYPE "MessageStatus" AS ENUM ('QUEUED', 'SENDING', 'SENT', 'FAILED', 'EXPIRED', 'SUPPRESSED', 'CANCELED');

-- CreateEnum
CREATE TYPE "MessageReason" AS ENUM ('ACCEPTED', 'UNCONFIRMED', 'PAYLOAD_TOO_LARGE', 'SUBSCRIPTION_GONE', 'PUSH_SERVICE_REJECTED', 'RETRIES_EXHAUSTED', 'TEMPLATE_ERROR', 'FREQUENCY_CAP', 'QUIET_HOURS', 'EXCEPTION_EVENT', 'NO_SUBSCRIPTION', 'NOT_ELIGIBLE', 'EXPIRED', 'CAMPAIGN_CANCELED');

-- CreateTable
CREATE TABLE "Campaign" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "CampaignKind" NOT NULL,
    "status" "CampaignStatus" NOT NULL DEFAULT 'DRAFT',
    "pausedFrom" "CampaignStatus",
    "content" JSONB NOT NULL,
    "segmentId" UUID,
    "audienceRule" JSONB,
    "audienceType" "Audience" NOT NULL DEFAULT 'ALL',
    "sendAt" TIMESTAMPTZ(3),
    "localTime" BOOLEAN NOT NULL DEFAULT false,
    "activeUntil" TIMESTAMPTZ(3),
    "startAt" TIMESTAMPTZ(3),
    "endAt" TIMESTAMPTZ(3),
    "trigger" JSONB,
    "deliveryWindowStart" TEXT,
    "deliveryWindowEnd" TEXT,
    "frequencyCapped" BOOLEAN NOT NULL DEFAULT true,
    "conversion" JSONB,
    "preparedAt" TIMESTAMPTZ(3),
    "startedAt" TIMESTAMPTZ(3),
    "wakeAt" TIMESTAMPTZ(3),
    "completedAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Campaign_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Message" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "campaignId" UUID NOT NULL,
    "contactId" UUID NOT NULL,
    "subscriptionId" UUID,
    "occurrence" TEXT NOT NULL,
    "test" BOOLEAN NOT NULL DEFAULT false,
    "status" "MessageStatus" NOT NULL DEFAULT 'QUEUED',
    "reason" "MessageReason",
    "scheduledFor" TIMESTAMPTZ(3) NOT NULL,
    "dueAt" TIMESTAMPTZ(3) NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "claimedAt" TIMESTAMPTZ(3),
    "sentAt" TIMESTAMPTZ(3),
    "displayedAt" TIMESTAMPTZ(3),
    "clickedAt" TIMESTAMPTZ(3),
    "closedAt" TIMESTAMPTZ(3),
    "convertedAt" TIMESTAMPTZ(3),
    "error" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Message_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CampaignCount" (
    "campaignId" UUID NOT NULL,
    "metric" TEXT NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "CampaignCount_pkey" PRIMARY KEY ("campaignId","metric")
);

-- CreateIndex
CREATE INDEX "Campaign_workspaceId_createdAt_idx" ON "Campaign"("workspaceId", "createdAt");

-- CreateIndex
CREATE INDEX "Campaign_segmentId_idx" ON "Campaign"("segmentId");

-- CreateIndex
CREATE INDEX "Message_campaignId_status_dueAt_idx" ON "Message"("campaignId", "status", "dueAt");

-- CreateIndex
CREATE INDEX "Message_contactId_createdAt_idx" ON "Message"("contactId", "createdAt");

-- CreateIndex
CREATE INDEX "Message_contactId_sentAt_idx" ON "Message"("contactId", "sentAt");

-- CreateIndex
CREATE UNIQUE INDEX "Message_campaignId_occurrence_subscriptionId_key" ON "Message"("campaignId", "occurrence", "subscriptionId");

-- AddForeignKey
ALTER TABLE "Campaign" ADD CONSTRAINT "Campaign_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Campaign" ADD CONSTRAINT "Campaign_segmentId_fkey" FOREIGN KEY ("segmentId") REFERENCES "Segment"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Message" ADD CONSTRAINT "Message_campaignId_fkey" FOREIGN KEY ("campaignId") REFERENCES "Campaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Message" ADD CONSTRAINT "Message_contactId_fkey" FOREIGN KEY ("contactId") REFERENCES "Contact"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Message" ADD CONSTRAINT "Message_subscriptionId_fkey" FOREIGN KEY ("subscriptionId") REFERENCES "PushSubscription"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CampaignCount" ADD CONSTRAINT "CampaignCount_campaignId_fkey" FOREIGN KEY ("campaignId") REFERENCES "Campaign"("id") ON DELETE CASCADE ON UPDATE CASCADE;
