-- SMS and webhook refusals get their own reason instead of PUSH_SERVICE_REJECTED.
ALTER TYPE "MessageReason" ADD VALUE 'PROVIDER_REJECTED' AFTER 'PUSH_SERVICE_REJECTED';
