import {
  GraphQLError,
  Kind,
  type FragmentDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { ErrorCode } from '../errors.js';

// What a document may ask for, checked before anything runs (STYLE.md rule 17). Relations are
// batched, so a page costs a constant number of SQL statements whatever its size; what remains
// to bound is nesting (each level is one more round of loaders) and aliases (each alias of a
// list field is one more page).

/**
 * Nesting depth as Mercurius counts it (a field or an inline fragment is a level, a fragment
 * spread is not), except that introspection (`__schema`, `__type`) is free: GraphiQL's standard
 * introspection query is 15 levels deep and reads no data.
 */
export function depthLimit(max: number): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of context.getDocument().definitions) {
      if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    }
    const fragmentDepth = new Map<string, number>();
    const depthOf = (set: SelectionSetNode, visiting: ReadonlySet<string>): number => {
      let deepest = 0;
      for (const s of set.selections) {
        if (s.kind === Kind.FIELD) {
          if (s.name.value.startsWith('__')) continue;
          deepest = Math.max(deepest, 1 + (s.selectionSet ? depthOf(s.selectionSet, visiting) : 0));
        } else if (s.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, 1 + depthOf(s.selectionSet, visiting));
        } else {
          const name = s.name.value;
          const fragment = fragments.get(name);
          // A cycle is reported by graphql's own NoFragmentCycles rule.
          if (!fragment || visiting.has(name)) continue;
          if (!fragmentDepth.has(name)) {
            fragmentDepth.set(name, depthOf(fragment.selectionSet, new Set([...visiting, name])));
          }
          deepest = Math.max(deepest, fragmentDepth.get(name)!);
        }
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, new Set());
        if (depth > max) {
          context.reportError(
            new GraphQLError(
              `${node.name?.value ?? 'unnamedQuery'} query depth (${depth}) exceeds the query depth limit of ${max}`,
              { nodes: [node], extensions: { code: 'QUERY_TOO_DEEP' satisfies ErrorCode } },
            ),
          );
        }
      },
    };
  };
}

/** At most `max` aliased fields in a document: `a: specimens(first: 500) b: specimens(...)...`. */
export function aliasLimit(max: number): ValidationRule {
  return (context: ValidationContext) => {
    let aliases = 0;
    return {
      Field(node) {
        if (node.alias) aliases++;
      },
      Document: {
        leave(node) {
          if (aliases > max) {
            context.reportError(
              new GraphQLError(`the document uses ${aliases} aliases; at most ${max} are allowed`, {
                nodes: [node],
                extensions: { code: 'TOO_MANY_ALIASES' satisfies ErrorCode },
              }),
            );
          }
        },
      },
    };
  };
}

/**
 * One operation per document: a request runs one operation, so a document carrying a thousand
 * (of which `operationName` would pick one) is refused rather than validated and cached whole.
 */
export function singleOperation(): ValidationRule {
  return (context: ValidationContext) => {
    const operations = context
      .getDocument()
      .definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION).length;
    if (operations > 1) {
      context.reportError(
        new GraphQLError(`the document holds ${operations} operations; send one per request`, {
          extensions: { code: 'TOO_MANY_OPERATIONS' satisfies ErrorCode },
        }),
      );
    }
    return {};
  };
}
