// The identifier systems that are the biobank's own: its canonical base (FHIR extensions, code
// systems, the barcode and external-id systems) and RFC 3986's, under which FHIR carries our ids.
// Pure data: shared by the FHIR adapter, which writes them, and the specimen schemas, which keep
// them out of external ids (a tube "externally" identified as a barcode would read back as two).

export const OWN_CANONICAL_BASE = 'https://biobank.dev/fhir';
export const URI_IDENTIFIER_SYSTEM = 'urn:ietf:rfc:3986';

/** Is this system one of ours, which no external id may use? */
export function isOwnIdentifierSystem(system: string): boolean {
  const s = system.toLowerCase();
  return (
    s === URI_IDENTIFIER_SYSTEM ||
    s.startsWith('https://biobank.dev/') ||
    s.startsWith('http://biobank.dev/') ||
    s === 'https://biobank.dev' ||
    s === 'http://biobank.dev'
  );
}
