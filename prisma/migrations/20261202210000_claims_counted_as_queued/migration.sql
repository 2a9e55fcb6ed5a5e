-- Claimed rows (SENDING) are counted in status:QUEUED from now on (src/delivery/ledger.ts
-- statusMetric): a claim changes no counter. Counts of claims made before move there.
INSERT INTO "CampaignCount" ("campaignId", metric, count)
SELECT "campaignId", 'status:QUEUED', count FROM "CampaignCount" WHERE metric = 'status:SENDING'
ORDER BY 1
ON CONFLICT ("campaignId", metric) DO UPDATE SET count = "CampaignCount".count + excluded.count;

DELETE FROM "CampaignCount" WHERE metric = 'status:SENDING';
