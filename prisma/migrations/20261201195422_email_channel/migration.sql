-- CreateEnum
CREATE TYPE "ChannelStatus" AS ENUM ('NONE', 'SUBSCRIBED', 'UNSUBSCRIBED', 'BOUNCED', 'COMPLAINED');

-- CreateEnum
CREATE TYPE "Channel" AS ENUM ('WEB_PUSH', 'EMAIL', 'SMS', 'WEBHOOK', 'IN_APP', 'MOBILE_PUSH');

-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "MessageReason" ADD VALUE 'NO_EMAIL';
ALTER TYPE "MessageReason" ADD VALUE 'NO_PHONE';
ALTER TYPE "MessageReason" ADD VALUE 'UNSUBSCRIBED';
ALTER TYPE "MessageReason" ADD VALUE 'BOUNCED';
ALTER TYPE "MessageReason" ADD VALUE 'COMPLAINED';
ALTER TYPE "MessageReason" ADD VALUE 'HOLDOUT';
ALTER TYPE "MessageReason" ADD VALUE 'CONTROL_GROUP';

-- AlterTable
ALTER TABLE "Campaign" ADD COLUMN     "channel" "Channel" NOT NULL DEFAULT 'WEB_PUSH';

-- AlterTable
ALTER TABLE "Contact" ADD COLUMN     "emailStatus" "ChannelStatus" NOT NULL DEFAULT 'NONE',
ADD COLUMN     "emailStatusAt" TIMESTAMPTZ(3),
ADD COLUMN     "emailStatusSource" TEXT,
ADD COLUMN     "smsStatus" "ChannelStatus" NOT NULL DEFAULT 'NONE',
ADD COLUMN     "smsStatusAt" TIMESTAMPTZ(3),
ADD COLUMN     "smsStatusSource" TEXT;

-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "channel" "Channel" NOT NULL DEFAULT 'WEB_PUSH',
ADD COLUMN     "deliveredAt" TIMESTAMPTZ(3),
ADD COLUMN     "openedAt" TIMESTAMPTZ(3),
ADD COLUMN     "variant" TEXT;

-- AlterTable
ALTER TABLE "Workspace" ADD COLUMN     "dkimPrivateKey" TEXT,
ADD COLUMN     "emailSettings" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "smtpUrl" TEXT;
