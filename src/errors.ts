/**
 * Expected failures, as values the GraphQL errors plugin turns into typed results. Domain services
 * throw these; anything else is a bug and is masked by the server.
 */

/** Every error code of a typed result (`... on Error { code }`), namespaced by domain, defined once. */
export const ErrorCode = {
  validation: 'validation/invalid_input',
  conflict: 'resource/conflict',
  apiKeyNotFound: 'api_key/not_found',
  workspaceNotFound: 'workspace/not_found',
  contactNotFound: 'contact/not_found',
  contactKeyTaken: 'contact/key_taken',
  subscriptionNotFound: 'push_subscription/not_found',
  deviceNotFound: 'device/not_found',
  segmentNotFound: 'segment/not_found',
  segmentInUse: 'segment/in_use',
  campaignNotFound: 'campaign/not_found',
  campaignIllegalTransition: 'campaign/illegal_transition',
  messageNotFound: 'message/not_found',
  journeyNotFound: 'journey/not_found',
  journeyIllegalTransition: 'journey/illegal_transition',
  identityVerificationRequired: 'identity/verification_required',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The codes of top-level GraphQL errors (`errors[].extensions.code`): a request or field refused
 * as a whole, or a query's expected failure. GraphQL's conventional names, which clients match on.
 */
export const RequestErrorCode = {
  unauthenticated: 'UNAUTHENTICATED',
  forbidden: 'FORBIDDEN',
  badUserInput: 'BAD_USER_INPUT',
  notFound: 'NOT_FOUND',
  rateLimited: 'RATE_LIMITED',
  tooManySubscriptions: 'TOO_MANY_SUBSCRIPTIONS',
} as const;
export type RequestErrorCode = (typeof RequestErrorCode)[keyof typeof RequestErrorCode];

export abstract class HeraldError extends Error {
  abstract readonly code: ErrorCode;
}

export interface FieldError {
  path: string[];
  message: string;
}

export class ValidationError extends HeraldError {
  constructor(
    readonly fieldErrors: FieldError[],
    /** A more precise code than validation/invalid_input, when a client should act on it. */
    readonly code: ErrorCode = ErrorCode.validation,
  ) {
    super(fieldErrors.map((error) => `${error.path.join('.')}: ${error.message}`).join('; ') || 'Invalid input');
  }

  static field(path: string[], message: string, code?: ErrorCode): ValidationError {
    return new ValidationError([{ path, message }], code);
  }
}

export class NotFoundError extends HeraldError {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class ConflictError extends HeraldError {
  constructor(
    message: string,
    readonly code: ErrorCode = ErrorCode.conflict,
  ) {
    super(message);
  }
}

/** Turns zod issues into field errors; `prefix` places them under the mutation's input path. */
export function fromZodIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  prefix: string[] = [],
): ValidationError {
  return new ValidationError(
    issues.map((issue) => ({ path: [...prefix, ...issue.path.map(String)], message: issue.message })),
  );
}
