/*
  Warnings:

  - A unique constraint covering the columns `[journeyId,journeyVersion,journeyStep,channel]` on the table `Campaign` will be added. If there are existing duplicate values, this will fail.

*/
-- CreateEnum
CREATE TYPE "JourneyStatus" AS ENUM ('DRAFT', 'ACTIVE', 'PAUSED', 'ARCHIVED');

-- CreateEnum
CREATE TYPE "JourneyEnrollmentStatus" AS ENUM ('ACTIVE', 'COMPLETED', 'EXITED');

-- AlterEnum
ALTER TYPE "CampaignKind" ADD VALUE 'JOURNEY';

-- AlterTable
ALTER TABLE "Campaign" ADD COLUMN     "journeyId" UUID,
ADD COLUMN     "journeyStep" TEXT,
ADD COLUMN     "journeyVersion" INTEGER;

-- CreateTable
CREATE TABLE "Journey" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "status" "JourneyStatus" NOT NULL DEFAULT 'DRAFT',
    "draft" JSONB NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Journey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "JourneyVersion" (
    "journeyId" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "definition" JSONB NOT NULL,
    "entryEvent" TEXT,
    "exitEvents" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "goalEvent" TEXT,
    "goalWithinSeconds" INTEGER,
    "publishedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "JourneyVersion_pkey" PRIMARY KEY ("journeyId","version")
);

-- CreateTable
CREATE TABLE "JourneyEnrollment" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "journeyId" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "contactId" UUID NOT NULL,
    "status" "JourneyEnrollmentStatus" NOT NULL DEFAULT 'ACTIVE',
    "step" TEXT,
    "seq" INTEGER NOT NULL DEFAULT 0,
    "arrivedAt" TIMESTAMPTZ(3) NOT NULL,
    "ran" BOOLEAN NOT NULL DEFAULT false,
    "wakeAt" TIMESTAMPTZ(3),
    "waitingFor" TEXT,
    "eventAt" TIMESTAMPTZ(3),
    "enteredAt" TIMESTAMPTZ(3) NOT NULL,
    "endedAt" TIMESTAMPTZ(3),
    "convertedAt" TIMESTAMPTZ(3),

    CONSTRAINT "JourneyEnrollment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "JourneyPathEntry" (
    "enrollmentId" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "journeyId" UUID NOT NULL,
    "step" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "passedAt" TIMESTAMPTZ(3) NOT NULL,
    "outcome" TEXT NOT NULL,
    "channel" "Channel",
    "reason" TEXT,

    CONSTRAINT "JourneyPathEntry_pkey" PRIMARY KEY ("enrollmentId","seq")
);

-- CreateIndex
CREATE INDEX "Journey_workspaceId_createdAt_idx" ON "Journey"("workspaceId", "createdAt");

-- CreateIndex
CREATE INDEX "JourneyEnrollment_status_wakeAt_idx" ON "JourneyEnrollment"("status", "wakeAt");

-- CreateIndex
CREATE INDEX "JourneyEnrollment_contactId_waitingFor_idx" ON "JourneyEnrollment"("contactId", "waitingFor");

-- CreateIndex
CREATE INDEX "JourneyEnrollment_journeyId_contactId_enteredAt_idx" ON "JourneyEnrollment"("journeyId", "contactId", "enteredAt");

-- CreateIndex
CREATE INDEX "JourneyEnrollment_journeyId_status_step_idx" ON "JourneyEnrollment"("journeyId", "status", "step");

-- CreateIndex
CREATE INDEX "JourneyPathEntry_journeyId_step_idx" ON "JourneyPathEntry"("journeyId", "step");

-- CreateIndex
CREATE UNIQUE INDEX "Campaign_journeyId_journeyVersion_journeyStep_channel_key" ON "Campaign"("journeyId", "journeyVersion", "journeyStep", "channel");

-- AddForeignKey
ALTER TABLE "Campaign" ADD CONSTRAINT "Campaign_journeyId_fkey" FOREIGN KEY ("journeyId") REFERENCES "Journey"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Journey" ADD CONSTRAINT "Journey_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "JourneyVersion" ADD CONSTRAINT "JourneyVersion_journeyId_fkey" FOREIGN KEY ("journeyId") REFERENCES "Journey"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "JourneyEnrollment" ADD CONSTRAINT "JourneyEnrollment_journeyId_fkey" FOREIGN KEY ("journeyId") REFERENCES "Journey"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "JourneyEnrollment" ADD CONSTRAINT "JourneyEnrollment_contactId_fkey" FOREIGN KEY ("contactId") REFERENCES "Contact"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "JourneyPathEntry" ADD CONSTRAINT "JourneyPathEntry_enrollmentId_fkey" FOREIGN KEY ("enrollmentId") REFERENCES "JourneyEnrollment"("id") ON DELETE CASCADE ON UPDATE CASCADE;
