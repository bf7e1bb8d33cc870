// The columns of each kind of import (CSV header names, NDJSON field names) and how a row becomes
// the input of the service that applies it. Records are named by natural keys only (barcodes,
// protocol codes, LIS ids, external ids), never by our ids. Each row is checked with the same zod
// schema as the REST body it stands for, so a field means the same in a file as in a call.
import { z } from 'zod';
import { registerSpecimenInput, type RegisterSpecimenInput } from '../specimens/index.js';
import { upsertParticipantInput, type UpsertParticipantInput } from '../participants/index.js';
import { recordConsentInput, type RecordConsentInput } from '../consent/index.js';
import type { FieldProblem } from '../../errors.js';
import type { ImportKind } from './imports.table.js';

/** A row as read, cut to what identifies and describes the record. */
export interface SpecimenImportRow {
  body: Omit<RegisterSpecimenInput, 'participantId' | 'protocolId' | 'containerId'>;
  protocolCode?: string;
  participantLisId?: string;
  participantCode?: string;
  containerBarcode?: string;
}
export interface ParticipantImportRow {
  protocolCode: string;
  body: UpsertParticipantInput;
}
export interface ConsentImportRow {
  protocolCode: string;
  participantLisId?: string;
  participantCode?: string;
  body: Omit<RecordConsentInput, 'participantId'>;
}

export interface KindColumns {
  known: readonly string[];
  required: readonly string[];
  /** the CSV template's example row, in `known` order */
  example: readonly string[];
}

export const COLUMNS: Record<ImportKind, KindColumns> = {
  specimens: {
    known: [
      'externalIdSystem',
      'externalIdValue',
      'barcode',
      'type',
      'quantity',
      'unit',
      'protocolCode',
      'participantLisId',
      'participantCode',
      'containerBarcode',
      'position',
      'anatomicSite',
      'pathologyStatus',
      'collectedAt',
      'receivedAt',
      'processedAt',
      'frozenAt',
      'sprecCode',
      'sprecVersion',
    ],
    required: ['externalIdSystem', 'externalIdValue', 'barcode', 'type', 'quantity'],
    example: [
      'urn:oid:1.2.276.0.76.4.17',
      'ACC-2026-000123',
      'S-000123',
      'serum',
      '1.5',
      'mL',
      'ONCO-DEMO',
      '',
      'ONC-0001',
      'BX-0042',
      'I9',
      'antecubital vein',
      'normal',
      '2026-03-02T08:15:00Z',
      '2026-03-02T09:00:00Z',
      '',
      '',
      'SER-SST-A-B-A-A-A',
      '3.0',
    ],
  },
  participants: {
    known: ['protocolCode', 'lisPatientId', 'participantCode', 'sex', 'birthYear', 'diagnoses'],
    required: ['protocolCode', 'lisPatientId', 'participantCode'],
    example: ['ONCO-DEMO', 'LIS-PAT-4711', 'ONC-0001', 'female', '1961', 'C50.9'],
  },
  consents: {
    known: [
      'protocolCode',
      'participantLisId',
      'participantCode',
      'documentVersion',
      'signedOn',
      'obtainedBy',
      'responses',
      'expiresOn',
    ],
    required: ['protocolCode', 'documentVersion', 'signedOn', 'obtainedBy'],
    example: [
      'ONCO-DEMO',
      '',
      'ONC-0001',
      'v2.1',
      '2026-01-15',
      'nurse-17',
      'GENETIC_RESEARCH=yes;EXTERNAL_SHARING=no',
      '',
    ],
  },
};

/** The CSV template of a kind: its header and one example row. */
export function templateCsv(kind: ImportKind): string {
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  const c = COLUMNS[kind];
  return `${c.known.join(',')}\r\n${c.example.map(quote).join(',')}\r\n`;
}

const text = (max: number) => z.string().trim().min(1).max(max);
/** A number in a CSV cell is text; in NDJSON it may be either. */
const num = z.union([
  z.number(),
  z
    .string()
    .trim()
    .regex(/^-?\d+(\.\d+)?$/, 'is not a number')
    .transform(Number),
]);
const list = z.union([
  z.array(z.string()),
  z.string().transform((s) =>
    s
      .split(';')
      .map((x) => x.trim())
      .filter(Boolean),
  ),
]);
/** `TIER=yes;TIER2=no` in CSV, an object in NDJSON. */
const responses = z.union([
  z.record(z.string(), z.string()),
  z.string().transform((s, ctx) => {
    const out: Record<string, string> = {};
    for (const part of s
      .split(';')
      .map((x) => x.trim())
      .filter(Boolean)) {
      const [k, v, ...more] = part.split('=');
      if (!k || !v || more.length) {
        ctx.addIssue({ code: 'custom', message: `${part} is not TIER=response` });
        return z.NEVER;
      }
      out[k.trim()] = v.trim();
    }
    return out;
  }),
]);

const specimenKeys = z.object({
  externalIdSystem: text(200),
  externalIdValue: text(200),
  protocolCode: text(40).optional(),
  participantLisId: text(64).optional(),
  participantCode: text(64).optional(),
  containerBarcode: text(64).optional(),
  quantity: num,
});
const participantRow = z.object({
  protocolCode: text(40),
  lisPatientId: z.string(),
  participantCode: z.string(),
  birthYear: num.optional(),
  diagnoses: list.optional(),
  sex: z.string().optional(),
});
/** Built once: zod compiles a schema on first use, and a row is read a million times. */
const specimenBody = registerSpecimenInput.omit({ participantId: true, protocolId: true, containerId: true });
const consentBody = recordConsentInput.omit({ participantId: true });
const consentRow = z.object({
  protocolCode: text(40),
  participantLisId: text(64).optional(),
  participantCode: text(64).optional(),
  responses: responses.optional(),
});

/** zod issues as row problems: the path's first element is the column (mapped back from the body's field). */
function problems(err: z.ZodError, rename: Record<string, string> = {}): FieldProblem[] {
  return err.issues.map((i) => {
    const head = String(i.path[0] ?? '');
    return { field: rename[head] ?? head, message: i.message, code: i.code };
  });
}

export type RowOutcome<T> = { ok: true; row: T } | { ok: false; problems: FieldProblem[] };

function participantRef(f: { participantLisId?: string; participantCode?: string; protocolCode?: string }) {
  if (f.participantLisId && f.participantCode)
    return [{ field: 'participantCode', message: 'give participantLisId or participantCode, not both' }];
  if ((f.participantLisId || f.participantCode) && !f.protocolCode)
    return [
      {
        field: 'protocolCode',
        message: 'is required to find the participant (participants are per protocol)',
      },
    ];
  return [];
}

export function specimenRow(fields: Record<string, unknown>): RowOutcome<SpecimenImportRow> {
  const keys = specimenKeys.safeParse(fields);
  if (!keys.success) return { ok: false, problems: problems(keys.error) };
  const k = keys.data;
  const ref = participantRef(k);
  const body = specimenBody.safeParse({
    barcode: fields.barcode,
    type: fields.type,
    quantity: k.quantity,
    unit: fields.unit,
    anatomicSite: fields.anatomicSite,
    pathologyStatus: fields.pathologyStatus,
    collectedAt: fields.collectedAt,
    receivedAt: fields.receivedAt,
    processedAt: fields.processedAt,
    frozenAt: fields.frozenAt,
    sprecCode: fields.sprecCode,
    sprecVersion: fields.sprecVersion,
    position: fields.position,
    externalIds: [{ system: k.externalIdSystem, value: k.externalIdValue }],
  });
  if (!body.success)
    return { ok: false, problems: [...ref, ...problems(body.error, { externalIds: 'externalIdSystem' })] };
  if (ref.length) return { ok: false, problems: ref };
  if (body.data.position && !k.containerBarcode)
    return { ok: false, problems: [{ field: 'containerBarcode', message: 'is required with a position' }] };
  return {
    ok: true,
    row: {
      body: body.data,
      protocolCode: k.protocolCode,
      participantLisId: k.participantLisId,
      participantCode: k.participantCode,
      containerBarcode: k.containerBarcode,
    },
  };
}

export function participantImportRow(fields: Record<string, unknown>): RowOutcome<ParticipantImportRow> {
  const base = participantRow.safeParse(fields);
  if (!base.success) return { ok: false, problems: problems(base.error) };
  const b = upsertParticipantInput.safeParse({
    lisPatientId: base.data.lisPatientId,
    protocolParticipantId: base.data.participantCode,
    sex: base.data.sex,
    birthYear: base.data.birthYear,
    diagnoses: base.data.diagnoses,
  });
  if (!b.success)
    return { ok: false, problems: problems(b.error, { protocolParticipantId: 'participantCode' }) };
  return { ok: true, row: { protocolCode: base.data.protocolCode, body: b.data } };
}

export function consentImportRow(fields: Record<string, unknown>): RowOutcome<ConsentImportRow> {
  const base = consentRow.safeParse(fields);
  if (!base.success) return { ok: false, problems: problems(base.error) };
  const k = base.data;
  const ref = participantRef(k);
  if (!k.participantLisId && !k.participantCode)
    ref.push({ field: 'participantLisId', message: 'give participantLisId or participantCode' });
  const b = consentBody.safeParse({
    documentVersion: fields.documentVersion,
    signedOn: fields.signedOn,
    obtainedBy: fields.obtainedBy,
    responses: k.responses ?? {},
    expiresOn: fields.expiresOn,
  });
  if (!b.success) return { ok: false, problems: [...ref, ...problems(b.error)] };
  if (ref.length) return { ok: false, problems: ref };
  return {
    ok: true,
    row: {
      protocolCode: k.protocolCode,
      participantLisId: k.participantLisId,
      participantCode: k.participantCode,
      body: b.data,
    },
  };
}
