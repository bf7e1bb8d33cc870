import { createRequire } from 'node:module';
import type * as GraphqlModule from 'graphql';
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationRule,
} from 'graphql';
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../auth/roles.js';
import {
  forbidden,
  graphqlDocumentRefused,
  validationFailed,
  type DomainError,
  type FieldProblem,
} from '../errors.js';
import { graphqlValidationRefusal } from '../http/problem.js';
import { findUnstorableText, unstorableText } from '../db/storable-text.js';

// Checks Mercurius runs around every document (issue 13, finding 1): what its options cannot say.
// Each guard is a Mercurius hook; they hold no rule of the domain.

// The graphql build Mercurius runs (CommonJS). Node's ESM loader resolves `graphql` to that same
// build, but vitest's loader gives the ESM one, whose validate() refuses a schema Mercurius built
// ("from another module or realm"): validation of subscriptions goes through Mercurius' build.
const runtime = createRequire(import.meta.url)('graphql') as typeof GraphqlModule;

export type IntrospectionPolicy = 'admins' | 'everyone' | 'off';

/**
 * Was the document parsed from GraphQL text? Mercurius, when the text does not parse, tries it as
 * JSON and runs the object as a syntax tree: a malformed tree then fails deep inside graphql-js.
 * A parsed document's location is a graphql-js `Location`, which JSON cannot produce.
 */
export function parsedFromText(document: unknown): boolean {
  const loc = (document as { loc?: unknown } | null)?.loc;
  if (loc === null || typeof loc !== 'object') return false;
  return (
    (Object.getPrototypeOf(loc) as { constructor?: { name?: string } } | null)?.constructor?.name ===
    'Location'
  );
}

const notText = () =>
  graphqlDocumentRefused(
    'the query must be GraphQL text; a JSON syntax tree is not accepted',
    'GRAPHQL_VALIDATION_FAILED',
  );

/** Mercurius preValidation hook: only documents parsed from text are validated (and cached). */
export function textOnlyHook() {
  return (_schema: unknown, document: unknown) => {
    if (!parsedFromText(document)) throw notText();
  };
}

const asksForSchemaMemo = new WeakMap<DocumentNode, boolean>();

/**
 * Does the document read the schema (`__schema`, `__type`)? `__typename` is a value, not
 * introspection. Cached documents are the same object each time, so the walk runs once for each.
 */
export function asksForSchema(document: DocumentNode): boolean {
  let answer = asksForSchemaMemo.get(document);
  if (answer === undefined) {
    const walk = (set: SelectionSetNode | undefined): boolean =>
      set?.selections.some((s) =>
        s.kind === Kind.FIELD
          ? s.name.value === '__schema' || s.name.value === '__type' || walk(s.selectionSet)
          : s.kind === Kind.INLINE_FRAGMENT
            ? walk(s.selectionSet)
            : false,
      ) ?? false;
    answer = document.definitions.some(
      (d) =>
        (d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION) && walk(d.selectionSet),
    );
    asksForSchemaMemo.set(document, answer);
  }
  return answer;
}

/** May this actor read the schema under the policy? Throws FORBIDDEN when not. */
export function assertIntrospectionAllowed(policy: IntrospectionPolicy, actor: Actor | undefined): void {
  if (policy === 'everyone') return;
  if (policy === 'admins' && (actor?.kind === 'system' || actor?.role === 'admin')) return;
  const who =
    policy === 'off' ? 'no key' : actor?.kind === 'api_key' ? `the ${actor.role} role` : 'this caller';
  throw forbidden(who, 'introspection (__schema, __type)');
}

/**
 * Mercurius preExecution hook: the per-request checks. They cannot be validation rules, whose
 * verdict Mercurius caches with the document text whoever sent it.
 */
export function introspectionHook(policy: IntrospectionPolicy) {
  return (_schema: unknown, document: DocumentNode, context: { biobank?: { actor: Actor } }) => {
    if (policy !== 'everyone' && asksForSchema(document)) {
      assertIntrospectionAllowed(policy, context.biobank?.actor);
    }
  };
}

/** The operation a request runs, as graphql-js picks it: the one it names, else the document's only one. */
export function chosenOperation(
  document: DocumentNode,
  operationName: unknown,
): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (typeof operationName === 'string') return operations.find((o) => o.name?.value === operationName);
  return operations.length === 1 ? operations[0] : undefined;
}

/**
 * Mercurius preExecution hook (HTTP and the WebSocket's queries and mutations; a subscription over
 * the WebSocket has hooks of its own): a subscription sent over HTTP has no stream to answer on,
 * and graphql-js would run its fields as a query's (null for each). Refused, naming the transport.
 */
export function subscriptionOverHttpHook() {
  return (_schema: unknown, document: DocumentNode, context: { reply?: { request: FastifyRequest } }) => {
    // The operation name of a POST body or of a GET's query string.
    const request = context.reply?.request;
    const named = ((request?.body ?? request?.query) as { operationName?: unknown } | undefined)
      ?.operationName;
    if (chosenOperation(document, named)?.operation === OperationTypeNode.SUBSCRIPTION)
      throw graphqlDocumentRefused(
        'subscriptions are served over a WebSocket at /graphql (graphql-transport-ws), not over HTTP',
        'GRAPHQL_VALIDATION_FAILED',
      );
  };
}

const literalMemo = new WeakMap<DocumentNode, FieldProblem | null>();

/**
 * The first string literal of the document PostgreSQL cannot store. The lexer refuses NUL and
 * lone surrogates as characters, but `\u0000` is a valid escape.
 */
function unstorableLiteral(document: DocumentNode): FieldProblem | null {
  let found = literalMemo.get(document);
  if (found === undefined) {
    found = null;
    const walk = (node: unknown): void => {
      if (found || node === null || typeof node !== 'object') return;
      if (Array.isArray(node)) return node.forEach(walk);
      const n = node as { kind?: string; value?: unknown };
      if (n.kind === Kind.STRING && typeof n.value === 'string') {
        const problem = unstorableText(n.value);
        if (problem)
          found = { field: 'query', message: `a string literal ${problem}`, code: 'invalid_format' };
        return;
      }
      for (const [key, child] of Object.entries(node)) if (key !== 'loc') walk(child);
    };
    walk(document.definitions);
    literalMemo.set(document, found);
  }
  return found;
}

/**
 * Mercurius preExecution hook: variables and string literals hold only text PostgreSQL stores
 * (the REST routes' rule, src/db/storable-text.ts). Throws VALIDATION_FAILED naming the variable.
 */
export function storableInputHook() {
  return (_schema: unknown, document: DocumentNode, _context: unknown, variables: unknown) => {
    const found = findUnstorableText(variables ?? null, 'variables') ?? unstorableLiteral(document);
    if (found) throw validationFailed([found]);
  };
}

/** A DomainError as a GraphQL error a subscription's client receives with its code. */
const asGraphqlError = (e: DomainError) => new GraphQLError(e.message, { extensions: { code: e.code } });

/**
 * Mercurius preSubscriptionExecution hook. Mercurius hands a subscription's document to
 * graphql-js's subscribe() without validating it (nor applying the depth and alias rules), and
 * accepts a syntax tree sent as an object: both are checked here, with the same rules as queries.
 */
export function subscriptionDocumentHook(rules: ValidationRule[]) {
  return (schema: GraphQLSchema, document: DocumentNode) => {
    if (!parsedFromText(document)) throw asGraphqlError(notText());
    const errors = runtime.validate(schema, document, [...runtime.specifiedRules, ...rules], {
      maxErrors: 20,
    });
    if (errors.length) throw asGraphqlError(graphqlValidationRefusal(errors));
  };
}
