// Public face of the audit module: the append-only trail of every write (21 CFR 11.10(e)).
export { recordAudit, auditRowsInsertSql, type AuditEntry, type AuditRow } from './audit.repo.js';
export { createAuditService, type AuditService, type AuditQuery } from './audit.service.js';
export { auditRoutes, auditEntryDto, toAuditEntryDto } from './audit.routes.js';
