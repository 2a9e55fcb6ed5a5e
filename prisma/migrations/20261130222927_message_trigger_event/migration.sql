-- AlterTable
ALTER TABLE "Message" ADD COLUMN     "eventId" UUID;
