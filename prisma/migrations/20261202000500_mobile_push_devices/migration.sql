-- CreateEnum
CREATE TYPE "DevicePlatform" AS ENUM ('IOS', 'ANDROID');

-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "deviceId" UUID;

-- AlterTable
ALTER TABLE "Workspace" ADD COLUMN     "apnsPrivateKey" TEXT,
ADD COLUMN     "fcmServiceAccount" TEXT,
ADD COLUMN     "mobilePushSettings" JSONB NOT NULL DEFAULT '{}';

-- CreateTable
CREATE TABLE "Device" (
    "id" UUID NOT NULL,
    "workspaceId" UUID NOT NULL,
    "contactId" UUID NOT NULL,
    "platform" "DevicePlatform" NOT NULL,
    "token" TEXT NOT NULL,
    "appId" TEXT NOT NULL,
    "status" "PushSubscriptionStatus" NOT NULL DEFAULT 'ACTIVE',
    "locale" TEXT,
    "timezone" TEXT,
    "appVersion" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" TIMESTAMPTZ(3),

    CONSTRAINT "Device_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Device_contactId_idx" ON "Device"("contactId");

-- CreateIndex
CREATE UNIQUE INDEX "Device_workspaceId_token_key" ON "Device"("workspaceId", "token");

-- AddForeignKey
ALTER TABLE "Device" ADD CONSTRAINT "Device_contactId_fkey" FOREIGN KEY ("contactId") REFERENCES "Contact"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Message" ADD CONSTRAINT "Message_deviceId_fkey" FOREIGN KEY ("deviceId") REFERENCES "Device"("id") ON DELETE CASCADE ON UPDATE CASCADE;
