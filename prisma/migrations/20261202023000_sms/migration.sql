-- AlterEnum
ALTER TYPE "MessageReason" ADD VALUE 'UNDELIVERED';

-- AlterTable
ALTER TABLE "Workspace" ADD COLUMN     "smsAuthToken" TEXT,
ADD COLUMN     "smsSettings" JSONB NOT NULL DEFAULT '{}';
