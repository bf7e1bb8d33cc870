import { createHmac } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Container } from '../container.js';
import type { Ctx } from '../context.js';
import { apiKeys } from '../auth/api-keys.table.js';
import { hashToken } from '../auth/api-keys.service.js';
import type { Role } from '../auth/roles.js';
import { findInstitutionByCode } from '../modules/institutions/index.js';
import type { INSTITUTION_KINDS } from '../modules/institutions/index.js';

/** Institutions modelled on the seed organisations. */
export const DEMO_INSTITUTIONS = [
  { code: 'TMC', name: 'Translational Medicine Center Biobank', kind: 'biobank', operator: true },
  { code: 'RH', name: 'University Research Hospital', kind: 'research_hospital', operator: false },
  { code: 'PH', name: 'Partner Hospital', kind: 'partner', operator: false },
] as const satisfies readonly {
  code: string;
  name: string;
  kind: (typeof INSTITUTION_KINDS)[number];
  operator: boolean;
}[];

/** One key per role; the partner key belongs to the partner hospital. */
export const DEMO_KEYS: readonly { role: Role; institution: string }[] = [
  { role: 'admin', institution: 'TMC' },
  { role: 'manager', institution: 'TMC' },
  { role: 'technician', institution: 'TMC' },
  { role: 'integration', institution: 'TMC' },
  { role: 'partner', institution: 'PH' },
];

/**
 * Demo tokens are derived from the server secret, so every `npm run demo` prints the same working
 * keys without storing them; only their hashes are in the database, as for any key.
 */
export function demoToken(
  secret: string,
  role: Role,
  institution: string,
): { token: string; prefix: string } {
  const mac = createHmac('sha256', secret).update(`demo-key:${institution}:${role}`).digest();
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const prefix = Array.from(mac.subarray(0, 10), (b) => alphabet[b % alphabet.length]).join('');
  const body = createHmac('sha256', secret).update(`demo-secret:${institution}:${role}`).digest('base64url');
  return { token: `bbk_${prefix}_${body}`, prefix };
}

export interface DemoSeedResult {
  keys: { role: Role; institution: string; token: string }[];
}

/** Seeds the demo institutions and keys. Idempotent: a second run changes nothing. */
export async function seedDemo(c: Container, ctx: Ctx): Promise<DemoSeedResult> {
  for (const inst of DEMO_INSTITUTIONS) {
    if (!(await findInstitutionByCode(c.db, inst.code))) {
      await c.services.institutions.createInstitution(ctx, inst);
    }
  }
  const keys: DemoSeedResult['keys'] = [];
  for (const k of DEMO_KEYS) {
    const { token, prefix } = demoToken(c.config.BIOBANK_SECRET, k.role, k.institution);
    const [existing] = await c.db
      .select()
      .from(apiKeys)
      .where(eq(apiKeys.tokenHash, hashToken(token)));
    if (!existing) {
      const institution = await findInstitutionByCode(c.db, k.institution);
      if (!institution) throw new Error(`demo institution ${k.institution} missing`);
      await c.db.insert(apiKeys).values({
        institutionId: institution.id,
        name: `demo ${k.role}`,
        role: k.role,
        prefix,
        tokenHash: hashToken(token),
        createdBy: 'system:seed-demo',
      });
    }
    keys.push({ role: k.role, institution: k.institution, token });
  }
  return keys.length ? { keys } : { keys: [] };
}
