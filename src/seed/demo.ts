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
  const tmc = await findInstitutionByCode(c.db, 'TMC');
  if (tmc) {
    const asTmc: Ctx = { ...ctx, actor: { kind: 'system', name: 'seed-demo', institutionId: tmc.id } };
    await seedDemoInventory(c, asTmc);
    await seedDemoAgreement(c, asTmc);
  }
  return { keys };
}

/**
 * The biobank shares with the partner hospital, so the partner key answers a catalogue (and may
 * draft a request) at once. Skipped when such an agreement exists.
 */
async function seedDemoAgreement(c: Container, ctx: Ctx): Promise<void> {
  const partner = await findInstitutionByCode(c.db, 'PH');
  if (!partner) throw new Error('demo institution PH missing');
  const existing = await c.services.sharing.listAgreements(ctx, { side: 'provider', limit: 100 });
  if (existing.items.some((a) => a.requesterInstitutionId === partner.id)) return;
  await c.services.sharing.createAgreement(ctx, {
    requesterInstitutionId: partner.id,
    uses: ['genetic_research', 'external_sharing'],
    mtaReference: 'MTA-DEMO-2025-01',
    validFrom: '2025-01-01',
    reviewDeadlineDays: 14,
  });
}

/**
 * A small, realistic inventory at the biobank so every screen has something to show: a -80 °C
 * freezer with a rack and two boxes, an oncology protocol, consenting donors, blood drawn into
 * plasma and serum aliquots and a DNA extract. Skipped when the protocol already exists.
 */
async function seedDemoInventory(c: Container, ctx: Ctx): Promise<void> {
  const s = c.services;
  if ((await s.participants.listProtocols(ctx)).some((p) => p.code === 'ONCO-DEMO')) return;
  const protocol = await s.participants.createProtocol(ctx, {
    code: 'ONCO-DEMO',
    title: 'Solid tumour biobanking cohort (demo)',
    ethicsApprovalRef: 'EC-2024-017',
    consentTiers: ['GENETIC_RESEARCH', 'EXTERNAL_SHARING', 'COMMERCIAL_USE', 'RECONTACT'],
    diseaseArea: 'tumour',
  });
  const freezer = await s.storage.createContainer(ctx, {
    kind: 'freezer',
    barcode: 'F-01',
    temperatureC: -80,
  });
  const rack = await s.storage.createContainer(ctx, {
    kind: 'rack',
    barcode: 'R3',
    parentId: freezer.container.id,
    grid: { rows: 4, cols: 5, scheme: 'numeric', fillOrder: 'row_major' },
  });
  const plasmaBox = await s.storage.createContainer(ctx, {
    kind: 'box',
    barcode: 'BX-0042',
    parentId: rack.container.id,
    slot: '1',
    grid: { rows: 9, cols: 9, scheme: 'alphanumeric', fillOrder: 'row_major' },
  });
  const extractBox = await s.storage.createContainer(ctx, {
    kind: 'box',
    barcode: 'BX-0043',
    parentId: rack.container.id,
    slot: '2',
    grid: { rows: 8, cols: 12, scheme: 'alphanumeric', fillOrder: 'row_major' },
    allowedTypes: ['dna', 'rna'],
  });
  const answers = [
    { GENETIC_RESEARCH: 'yes', EXTERNAL_SHARING: 'yes', COMMERCIAL_USE: 'no', RECONTACT: 'yes' },
    { GENETIC_RESEARCH: 'yes', EXTERNAL_SHARING: 'no', COMMERCIAL_USE: 'no', RECONTACT: 'unspecified' },
    { GENETIC_RESEARCH: 'no', EXTERNAL_SHARING: 'yes', COMMERCIAL_USE: 'yes', RECONTACT: 'no' },
  ] as const;
  const free = await s.storage.getFreePositions(ctx, plasmaBox.container.id, { count: 81 });
  let next = 0;
  for (const [i, responses] of answers.entries()) {
    const participant = await s.participants.registerParticipant(ctx, {
      protocolId: protocol.id,
      protocolParticipantId: `ONC-${String(i + 1).padStart(4, '0')}`,
      sex: i % 2 ? 'male' : 'female',
      birthYear: 1958 + i * 7,
      diagnoses: ['C50.9', 'C18.7', 'C34.1'].slice(i, i + 1),
    });
    await s.consent.recordConsent(ctx, {
      participantId: participant.id,
      documentVersion: 'ICF v3.1',
      signedOn: '2025-03-1' + i,
      obtainedBy: 'research nurse 07',
      responses,
    });
    const [blood] = await s.specimens.registerSpecimens(ctx, [
      {
        barcode: `DEMO-${i + 1}-EDTA`,
        type: 'whole_blood',
        quantity: 9,
        participantId: participant.id,
        collectedAt: `2025-03-1${i}T08:30:00Z`,
        receivedAt: `2025-03-1${i}T09:05:00Z`,
        processedAt: `2025-03-1${i}T09:40:00Z`,
        containerId: plasmaBox.container.id,
        position: free[next++]?.position,
        externalIds: [{ system: 'LIS', value: `LAB-2025-${1000 + i}` }],
      },
    ]);
    if (!blood) continue;
    await s.specimens.aliquotSpecimen(ctx, blood.row.id, {
      aliquots: [0, 1, 2].map(() => ({
        quantity: 1,
        containerId: plasmaBox.container.id,
        position: free[next++]?.position,
      })),
    });
    await s.specimens.deriveSpecimen(ctx, blood.row.id, {
      type: 'dna',
      consumedQuantity: 2,
      derivatives: [
        {
          quantity: 200,
          quality: { concentrationNgUl: 48.5, a260a280: 1.86 },
          containerId: extractBox.container.id,
          position: `A${i + 1}`,
        },
      ],
    });
  }
}
