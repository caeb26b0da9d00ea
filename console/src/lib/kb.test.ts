import { describe, expect, it } from 'vitest';
import { documentId, ingestBody, jobActive, jobProgress, retrieveBody } from './kb';

describe('knowledge-base helpers', () => {
  it('computes ingestion progress', () => {
    expect(jobProgress({ ingestionJobId: 'j', status: 'IN_PROGRESS', statistics: { numberOfDocumentsScanned: 4, numberOfNewDocumentsIndexed: 1, numberOfDocumentsFailed: 1 } })).toBe(0.5);
    expect(jobProgress({ ingestionJobId: 'j', status: 'STARTING' })).toBeNull();
    expect(jobProgress({ ingestionJobId: 'j', status: 'COMPLETE' })).toBe(1);
    expect(jobActive({ ingestionJobId: 'j', status: 'IN_PROGRESS' })).toBe(true);
    expect(jobActive({ ingestionJobId: 'j', status: 'FAILED' })).toBe(false);
  });

  it('makes document IDs from file names', () => {
    expect(documentId('My notes (v2).md')).toBe('My-notes-v2-.md');
    expect(documentId('???')).toBe('document');
  });

  it('builds request bodies', () => {
    expect(ingestBody([{ id: 'a', text: 'hello' }])).toEqual({
      documents: [
        { content: { dataSourceType: 'CUSTOM', custom: { customDocumentIdentifier: { id: 'a' }, sourceType: 'IN_LINE', inlineContent: { type: 'TEXT', textContent: { data: 'hello' } } } } },
      ],
    });
    expect(retrieveBody('q', 3, 'HYBRID')).toEqual({
      retrievalQuery: { text: 'q' },
      retrievalConfiguration: { vectorSearchConfiguration: { numberOfResults: 3, overrideSearchType: 'HYBRID' } },
    });
    expect(retrieveBody('q', 5, '')).toEqual({ retrievalQuery: { text: 'q' }, retrievalConfiguration: { vectorSearchConfiguration: { numberOfResults: 5 } } });
  });
});
