import { GraphQLError } from 'graphql';
import { ConflictError, type FieldError, HeraldError, NotFoundError, RequestErrorCode, ValidationError } from '../errors.ts';
import { builder } from './builder.ts';

/** `interface Error { code message }`: what every expected failure in a mutation result shares. */
export const ErrorInterface = builder.interfaceRef<HeraldError>('Error').implement({
  fields: (t) => ({
    code: t.exposeString('code'),
    message: t.exposeString('message'),
  }),
});

const FieldErrorRef = builder.objectRef<FieldError>('FieldError').implement({
  fields: (t) => ({
    path: t.exposeStringList('path', { description: 'Where the bad value is, from the argument down, e.g. ["input", "timezone"].' }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ValidationError,
  fields: (t) => ({
    fieldErrors: t.field({ type: [FieldErrorRef], resolve: (error) => error.fieldErrors }),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof NotFoundError,
  fields: () => ({}),
});

builder.objectType(ConflictError, {
  name: 'ConflictError',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ConflictError,
  fields: () => ({}),
});

export { FieldErrorRef };

/**
 * Queries have no typed result union, so there an expected failure becomes a GraphQL error with a
 * code (and the field errors) instead of being masked as unexpected.
 */
export async function inQuery<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new GraphQLError(error.message, { extensions: { code: RequestErrorCode.badUserInput, fieldErrors: error.fieldErrors } });
    }
    if (error instanceof NotFoundError) throw new GraphQLError(error.message, { extensions: { code: RequestErrorCode.notFound } });
    throw error;
  }
}
