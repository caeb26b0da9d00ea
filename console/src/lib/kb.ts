// Knowledge-base request bodies and ingestion progress, as pure functions.

/** IngestionJob is a Bedrock ingestion job summary. */
export interface IngestionJob {
  ingestionJobId: string;
  status: string;
  startedAt?: string;
  updatedAt?: string;
  statistics?: Record<string, number>;
  failureReasons?: string[];
}

/** jobProgress is the fraction of scanned documents processed, or null when unknown. */
export function jobProgress(j: IngestionJob): number | null {
  if (j.status === 'COMPLETE') return 1;
  const s = j.statistics ?? {};
  const scanned = s.numberOfDocumentsScanned ?? 0;
  if (!scanned) return null;
  const done = (s.numberOfNewDocumentsIndexed ?? 0) + (s.numberOfModifiedDocumentsIndexed ?? 0) + (s.numberOfDocumentsDeleted ?? 0) + (s.numberOfDocumentsFailed ?? 0);
  return Math.min(1, done / scanned);
}

/** jobActive reports whether a job may still change. */
export function jobActive(j: IngestionJob): boolean {
  return j.status === 'STARTING' || j.status === 'IN_PROGRESS' || j.status === 'STOPPING';
}

/** documentId makes a custom-document ID from a file name (letters, digits, -_.). */
export function documentId(fileName: string): string {
  const id = fileName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return (id || 'document').slice(0, 200);
}

/** ingestBody is IngestKnowledgeBaseDocuments's body for in-line text documents of a CUSTOM data source. */
export function ingestBody(docs: { id: string; text: string }[]): Record<string, unknown> {
  return {
    documents: docs.map((d) => ({
      content: {
        dataSourceType: 'CUSTOM',
        custom: { customDocumentIdentifier: { id: d.id }, sourceType: 'IN_LINE', inlineContent: { type: 'TEXT', textContent: { data: d.text } } },
      },
    })),
  };
}

/** retrieveBody is Retrieve's body. */
export function retrieveBody(query: string, n: number, searchType: '' | 'HYBRID' | 'SEMANTIC'): Record<string, unknown> {
  return {
    retrievalQuery: { text: query },
    retrievalConfiguration: { vectorSearchConfiguration: { numberOfResults: n, ...(searchType ? { overrideSearchType: searchType } : {}) } },
  };
}
