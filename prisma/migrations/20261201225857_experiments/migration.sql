-- AlterTable
ALTER TABLE "Campaign" ADD COLUMN     "holdoutPercent" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "variants" JSONB;

-- AlterTable
ALTER TABLE "Workspace" ADD COLUMN     "controlGroupPercent" INTEGER NOT NULL DEFAULT 0;
