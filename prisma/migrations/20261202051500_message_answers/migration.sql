-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "answer" TEXT,
ADD COLUMN     "answeredAt" TIMESTAMPTZ(3);
