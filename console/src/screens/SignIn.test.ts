import { describe, expect, it } from 'vitest';
import { credentialsFrom } from './SignIn';

describe('credentialsFrom', () => {
  it('prefers the API key', () => {
    expect(credentialsFrom(' ok-key ', 'AKID', 's')).toEqual({ apiKey: 'ok-key' });
  });
  it('takes an access key pair', () => {
    expect(credentialsFrom('', ' AKID ', 'se cret')).toEqual({ accessKeyId: 'AKID', secretAccessKey: 'se cret' });
  });
  it('explains what is missing', () => {
    expect(credentialsFrom('', 'AKID', '')).toMatch(/both/);
    expect(credentialsFrom('', '', '')).toMatch(/Enter an API key/);
  });
});
