import { createHmac } from 'node:crypto';

// Hospital identifiers are kept only as keyed hashes (HMAC-SHA-256 with BIOBANK_SECRET, scoped to
// the institution): the LIS integration can match a donor by them, and a copy of the database
// reveals none. Both are upper-cased, as hospitals print them in either case.

export interface HospitalIdHashes {
  /** The hospital record number. */
  mrn: (institutionId: string, mrn: string) => string;
  /** The LIS patient id: hashed apart from the MRN, so the two never match each other. */
  lisPatientId: (institutionId: string, id: string) => string;
}

export function hospitalIdHashes(secret: string): HospitalIdHashes {
  const hash = (text: string) => createHmac('sha256', secret).update(text).digest('hex');
  return {
    mrn: (institutionId, mrn) => hash(`${institutionId}\n${mrn.trim().toUpperCase()}`),
    lisPatientId: (institutionId, id) => hash(`lis-patient-id\n${institutionId}\n${id.trim().toUpperCase()}`),
  };
}
