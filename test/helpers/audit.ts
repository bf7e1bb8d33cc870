/** An `audit_log` row as the test's superuser connection reads it (`select * from audit_log`). */
export interface AuditLogRow {
  id: number;
  institution_id: string | null;
  actor: string;
  actor_role: string | null;
  action: string;
  entity_type: string;
  entity_id: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  request_id: string;
  recorded_at: Date;
}
