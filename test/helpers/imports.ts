import { gzipSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { uid, type Lab } from './inventory.js';
import { bearer, type TestApp } from './test-app.js';

// Shared by the import test files: uploading a file, running the apply job as a worker would, and
// building CSV files row by row.

export interface ImportBody {
  id: string;
  status: string;
  totalRows: number;
  validRows: number;
  existingRows: number;
  invalidRows: number;
  errorCount: number;
  appliedRows: number;
  createdRecords: number;
  progress: number;
  errors: { row: number; column: string | null; code: string; detail: string }[];
}

export function uploader(t: TestApp, key: () => string) {
  return (
    file: string | Buffer,
    query: Record<string, string>,
    opts: { contentType?: string; gzip?: boolean } = {},
  ): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method: 'POST',
      url: `/v1/imports?${new URLSearchParams(query).toString()}`,
      headers: {
        ...bearer(key()),
        'content-type': opts.contentType ?? (opts.gzip ? 'application/gzip' : 'text/csv'),
      },
      payload: opts.gzip ? gzipSync(file) : file,
    });
}

/** Runs the import's apply job from its outbox row, as the worker would. */
export async function runImportJob(t: TestApp, importId: string): Promise<void> {
  const { rows } = await t.sql.query<{ id: string; payload: Record<string, unknown> }>(
    "select id, payload from outbox where job_name = 'imports.apply' and payload->>'importId' = $1",
    [importId],
  );
  expect(rows).toHaveLength(1);
  const bound = t.c.registry.get('imports.apply')!;
  const data = bound.contract.payload.parse(rows[0]!.payload);
  await bound.handle(
    {
      actor: { kind: 'system', name: 'job:imports.apply', institutionId: null },
      requestId: 'job',
      log: t.c.log,
    },
    data,
    { id: rows[0]!.id, attemptsMade: 0, progress: async () => undefined },
  );
}

export const SPECIMEN_HEADER =
  'externalIdSystem,externalIdValue,barcode,type,quantity,protocolCode,participantLisId,containerBarcode,position,collectedAt,sprecCode';

export interface SpecimenLine {
  system?: string;
  accession: string;
  barcode: string;
  type?: string;
  quantity?: string;
  protocol?: string;
  lisId?: string;
  box?: string;
  position?: string;
  collectedAt?: string;
  sprec?: string;
}

export const specimenLine = (l: SpecimenLine) =>
  [
    l.system ?? 'LIS',
    l.accession,
    l.barcode,
    l.type ?? 'serum',
    l.quantity ?? '1.5',
    l.protocol ?? '',
    l.lisId ?? '',
    l.box ?? '',
    l.position ?? '',
    l.collectedAt ?? '2026-03-02T08:15:00Z',
    l.sprec ?? '',
  ].join(',');

export const csv = (header: string, lines: string[]) => `${header}\n${lines.join('\n')}\n`;

/** Lines for n tubes filling a box from A1, each with a fresh accession and barcode. */
export function tubes(n: number, box: string, cols = 9): SpecimenLine[] {
  return Array.from({ length: n }, (_, i) => ({
    accession: uid('ACC'),
    barcode: uid('S'),
    box,
    position: `${String.fromCharCode(65 + Math.floor(i / cols))}${(i % cols) + 1}`,
  }));
}

/** A protocol (by code) and participants upserted by LIS patient id, through the API. */
export async function cohort(t: TestApp, lab: Lab, lisIds: string[]) {
  const code = uid('P');
  const p = await t.app.inject({
    method: 'PUT',
    url: `/v1/protocols/by-code/${code}`,
    headers: bearer(lab.keys.manager),
    payload: { title: 'Import cohort', ethicsApprovalRef: 'EC-1', consentTiers: ['GENETIC_RESEARCH'] },
  });
  expect(p.statusCode, p.body).toBe(201);
  for (const lisPatientId of lisIds) {
    const r = await t.app.inject({
      method: 'PUT',
      url: `/v1/protocols/by-code/${code}/participants/by-lis-patient-id`,
      headers: bearer(lab.keys.integration),
      payload: { lisPatientId, protocolParticipantId: uid('D') },
    });
    expect(r.statusCode, r.body).toBe(201);
  }
  return { code, protocolId: p.json<{ id: string }>().id };
}
