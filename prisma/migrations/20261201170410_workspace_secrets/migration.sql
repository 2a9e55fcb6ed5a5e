-- The secrets are sealed with HERALD_SECRET_KEY, which SQL never sees: at start, Herald seals any
-- plain "vapidPrivateKey" and fills the NULL secrets (src/workspaces/secrets.ts, sealWorkspaceSecrets).
-- AlterTable
ALTER TABLE "Workspace" ADD COLUMN     "identitySecret" TEXT,
ADD COLUMN     "requireIdentityVerification" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "trackingSecret" TEXT;
