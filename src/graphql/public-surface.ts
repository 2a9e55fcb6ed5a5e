import type { Plugin } from 'graphql-yoga';
import {
  type DocumentNode,
  type GraphQLSchema,
  GraphQLError,
  isInterfaceType,
  isObjectType,
  type ValidationRule,
  validate,
} from 'graphql';
import { RequestErrorCode } from '../errors.ts';
import type { Context } from './context.ts';
import { documentMemo } from './document-memo.ts';

/**
 * Everything a publishable key may read, as `Type: [fields]`. A publishable key lives in every
 * visitor's browser, so it is refused every field not named here, whatever type it reaches and
 * whatever fields are added later: new types and fields are private until listed. What is listed
 * is what a visitor made or received themselves (their own contact's ids, their own event, the
 * status of a message they got, the on-site messages waiting for them), never a relation that
 * leads to other people.
 */
export const PUBLISHABLE_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Query: ['publicConfig', 'inAppMessages', 'inAppTriggers'],
  Mutation: ['registerPushSubscription', 'revokePushSubscription', 'registerDevice', 'revokeDevice', 'identifyContact', 'trackEvent', 'recordMessageEvent', 'answerQuestion'],
  PublicConfig: ['workspaceId', 'vapidPublicKey'],
  InAppMessage: ['token', 'layout', 'title', 'body', 'imageUrl', 'buttons', 'question', 'expiresAt'],
  InAppButton: ['label', 'url'],
  Question: ['kind', 'text', 'choices', 'freeText', 'answers'],
  MutationRegisterPushSubscriptionSuccess: ['data'],
  MutationRevokePushSubscriptionSuccess: ['data'],
  MutationRegisterDeviceSuccess: ['data'],
  MutationRevokeDeviceSuccess: ['data'],
  MutationIdentifyContactSuccess: ['data'],
  MutationTrackEventSuccess: ['data'],
  MutationRecordMessageEventSuccess: ['data'],
  MutationAnswerQuestionSuccess: ['data'],
  Contact: ['id', 'externalId', 'anonymousId', 'identified'],
  PushSubscription: ['id', 'endpoint', 'status', 'userAgent', 'timezone', 'locale', 'expirationTime', 'createdAt', 'revokedAt'],
  Device: ['id', 'platform', 'token', 'appId', 'status', 'locale', 'timezone', 'appVersion', 'createdAt', 'revokedAt'],
  Event: ['id', 'name', 'properties', 'occurredAt'],
  Message: ['id', 'status', 'displayedAt', 'clickedAt', 'closedAt', 'openedAt', 'answeredAt', 'answer'],
  Error: ['code', 'message'],
  ValidationError: ['code', 'message', 'fieldErrors'],
  FieldError: ['path', 'message'],
  NotFoundError: ['code', 'message'],
  ConflictError: ['code', 'message'],
};

const allowed = new Set(Object.entries(PUBLISHABLE_FIELDS).flatMap(([type, fields]) => fields.map((field) => `${type}.${field}`)));

/** Throws unless every listed field exists: a renamed field must not silently vanish from the list. */
export function checkPublicSurface(schema: GraphQLSchema): void {
  for (const coordinate of allowed) {
    const [typeName, fieldName] = coordinate.split('.') as [string, string];
    const type = schema.getType(typeName);
    const exists = (isObjectType(type) || isInterfaceType(type)) && fieldName in type.getFields();
    if (!exists) throw new Error(`PUBLISHABLE_FIELDS names ${coordinate}, which the schema does not have`);
  }
}

/**
 * The validation rule: one FORBIDDEN error per refused field outside PUBLISHABLE_FIELDS (fragments
 * included); what is selected inside a refused field is not reported again.
 */
const publishableFieldsOnly: ValidationRule = (context) => ({
  Field(node) {
    const parent = context.getParentType();
    const name = node.name.value;
    if (!parent || name === '__typename' || allowed.has(`${parent.name}.${name}`)) return undefined;
    context.reportError(
      new GraphQLError(`A publishable key may not read ${parent.name}.${name}`, {
        nodes: [node],
        extensions: { code: RequestErrorCode.forbidden, http: { status: 200 } },
      }),
    );
    return false;
  },
});

const verdicts = documentMemo<readonly GraphQLError[]>();

/** The fields of `document` a publishable key may not read, as errors; none when all are allowed. */
export function publicSurfaceErrors(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] {
  return verdicts.get(schema, document) ?? verdicts.set(schema, document, validate(schema, document, [publishableFieldsOnly]));
}

/**
 * Checks every operation of a publishable key against PUBLISHABLE_FIELDS before it runs, so a
 * refused field refuses the whole operation and nothing executes. Other principals pass through.
 */
export function usePublicSurface(): Plugin<Context> {
  const refuse = (args: { schema: GraphQLSchema; document: DocumentNode; contextValue: Context }) =>
    args.contextValue.principal.kind === 'publishable' ? publicSurfaceErrors(args.schema, args.document) : [];
  return {
    onSchemaChange: ({ schema }) => checkPublicSurface(schema),
    onExecute: ({ args, setResultAndStopExecution }) => {
      const errors = refuse(args as never);
      if (errors.length) setResultAndStopExecution({ errors });
    },
    onSubscribe: ({ args, setResultAndStopExecution }) => {
      const errors = refuse(args as never);
      if (errors.length) setResultAndStopExecution({ errors });
    },
  };
}
