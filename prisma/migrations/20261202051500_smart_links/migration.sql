-- CreateEnum
CREATE TYPE "LinkDevice" AS ENUM ('IOS', 'ANDROID', 'DESKTOP');

-- AlterTable
ALTER TABLE "Workspace" ADD COLUMN     "linkSettings" JSONB NOT NULL DEFAULT '{}';

-- CreateTable
CREATE TABLE "Link" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "code" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "ios" TEXT,
    "android" TEXT,
    "fallback" TEXT,
    "utm" JSONB NOT NULL DEFAULT '{}',
    "clicks" INTEGER NOT NULL DEFAULT 0,
    "iosClicks" INTEGER NOT NULL DEFAULT 0,
    "androidClicks" INTEGER NOT NULL DEFAULT 0,
    "desktopClicks" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Link_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LinkClick" (
    "id" UUID NOT NULL,
    "linkId" UUID NOT NULL,
    "device" "LinkDevice" NOT NULL,
    "contactId" UUID,
    "messageId" UUID,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "LinkClick_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Link_code_key" ON "Link"("code");

-- CreateIndex
CREATE INDEX "Link_workspaceId_id_idx" ON "Link"("workspaceId", "id");

-- CreateIndex
CREATE INDEX "LinkClick_linkId_at_idx" ON "LinkClick"("linkId", "at");

-- CreateIndex
CREATE INDEX "LinkClick_contactId_idx" ON "LinkClick"("contactId");

-- CreateIndex
CREATE INDEX "LinkClick_messageId_idx" ON "LinkClick"("messageId");

-- AddForeignKey
ALTER TABLE "Link" ADD CONSTRAINT "Link_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LinkClick" ADD CONSTRAINT "LinkClick_linkId_fkey" FOREIGN KEY ("linkId") REFERENCES "Link"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LinkClick" ADD CONSTRAINT "LinkClick_contactId_fkey" FOREIGN KEY ("contactId") REFERENCES "Contact"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LinkClick" ADD CONSTRAINT "LinkClick_messageId_fkey" FOREIGN KEY ("messageId") REFERENCES "Message"("id") ON DELETE SET NULL ON UPDATE CASCADE;
