import { forbidden } from '../errors.js';

export const ROLES = ['admin', 'manager', 'technician', 'partner', 'integration'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Who may do what. Services call `authorize(ctx.actor, operation)` before touching data; routes and
 * resolvers never decide. `operator` means an admin of the institution that runs the platform.
 * The README's roles matrix is generated from this table (test/docs.test.ts keeps them equal).
 */
export const PERMISSIONS = {
  'institutions.create': ['operator'],
  'institutions.read': ['admin', 'manager', 'technician', 'partner', 'integration'],
  'institutions.update': ['admin'],
  'apiKeys.manage': ['admin'],
  'audit.read': ['admin', 'manager'],
  'webhooks.read': ['admin', 'manager', 'integration'],
  'webhooks.manage': ['admin', 'manager'],
  'webhooks.responses': ['admin'],
  'queues.board': ['operator'],
  'protocols.read': ['admin', 'manager', 'technician', 'integration'],
  'protocols.manage': ['admin', 'manager'],
  'participants.read': ['admin', 'manager', 'technician', 'integration'],
  'participants.identity': ['admin', 'manager', 'integration'],
  'participants.manage': ['admin', 'manager', 'integration'],
  'specimens.read': ['admin', 'manager', 'technician', 'integration'],
  'specimens.register': ['admin', 'manager', 'technician', 'integration'],
  'specimens.update': ['admin', 'manager', 'technician', 'integration'],
  'specimens.handle': ['admin', 'manager', 'technician', 'integration'],
  'specimens.destroy': ['admin', 'manager', 'technician'],
  'specimens.holds': ['admin', 'manager'],
  'storage.read': ['admin', 'manager', 'technician', 'integration'],
  'storage.configure': ['admin', 'manager'],
  'storage.move': ['admin', 'manager', 'technician'],
  'custody.read': ['admin', 'manager', 'technician', 'integration'],
  'consent.read': ['admin', 'manager', 'integration'],
  'consent.manage': ['admin', 'manager', 'integration'],
  'destruction.read': ['admin', 'manager', 'technician'],
  'destruction.confirm': ['admin', 'manager', 'technician'],
  'standards.read': ['admin', 'manager', 'technician', 'integration'],
  'standards.manage': ['admin', 'manager'],
  'changes.read': ['admin', 'manager', 'integration'],
  'agreements.read': ['admin', 'manager', 'partner'],
  'agreements.manage': ['admin', 'manager'],
  'sharing.read': ['admin', 'manager', 'technician', 'partner'],
  'sharing.request': ['admin', 'manager', 'partner'],
  'sharing.review': ['admin', 'manager'],
  'sharing.ship': ['admin', 'manager', 'technician'],
  'sharing.receive': ['admin', 'manager', 'technician', 'partner'],
} as const satisfies Record<string, readonly (Role | 'operator')[]>;

export type Operation = keyof typeof PERMISSIONS;

export interface ApiKeyActor {
  kind: 'api_key';
  apiKeyId: string;
  /** the key's name, as custody events record who acted (ISO 20387 traceability) */
  name: string;
  institutionId: string;
  institutionCode: string;
  role: Role;
  /** the institution runs this platform: its admins create institutions */
  operator: boolean;
}

/** Command-line and background work act as the system, on behalf of one institution or all. */
export interface SystemActor {
  kind: 'system';
  name: string;
  institutionId: string | null;
}

export type Actor = ApiKeyActor | SystemActor;

export function actorLabel(actor: Actor): string {
  return actor.kind === 'api_key' ? `api_key:${actor.apiKeyId}` : `system:${actor.name}`;
}

export function can(actor: Actor, operation: Operation): boolean {
  if (actor.kind === 'system') return true;
  const allowed: readonly string[] = PERMISSIONS[operation];
  if (allowed.includes(actor.role)) return true;
  return allowed.includes('operator') && actor.operator && actor.role === 'admin';
}

/** Throws FORBIDDEN (403) when the actor's role may not perform the operation. */
export function authorize(actor: Actor, operation: Operation): void {
  if (!can(actor, operation)) {
    const who = actor.kind === 'api_key' ? `the ${actor.role} role` : 'this actor';
    throw forbidden(who, operation);
  }
}

/** The institution the actor works for; system actors must name one for institution-scoped work. */
export function actorInstitutionId(actor: Actor): string {
  if (actor.institutionId) return actor.institutionId;
  throw forbidden(actorLabel(actor), 'institution-scoped work without an institution');
}
