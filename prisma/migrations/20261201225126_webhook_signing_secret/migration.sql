-- AlterTable
ALTER TABLE "Workspace" ADD COLUMN     "webhookSecretRotatedAt" TIMESTAMPTZ(3),
ADD COLUMN     "webhookSigningSecret" TEXT,
ADD COLUMN     "webhookSigningSecretPrevious" TEXT;
