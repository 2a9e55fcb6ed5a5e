-- A counter is the sum of up to 16 rows: each writer adds to the row of its connection's shard
-- (pg_backend_pid() % 16, the column's default), so concurrent transactions moving one counter
-- (trigger entry of gathered event batches, the delivery lanes' settles, beacons) no longer queue
-- on a single row lock until each other's COMMIT. Existing counts stay in shard 0.
ALTER TABLE "CampaignCount" ADD COLUMN "shard" SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE "CampaignCount" ALTER COLUMN "shard" SET DEFAULT (pg_backend_pid() % 16);
ALTER TABLE "CampaignCount" DROP CONSTRAINT "CampaignCount_pkey";
ALTER TABLE "CampaignCount" ADD CONSTRAINT "CampaignCount_pkey" PRIMARY KEY ("campaignId", "metric", "shard");
