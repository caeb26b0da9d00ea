import { describe, expect, it } from 'vitest';
import { variantOf } from './Prompts';

describe('variantOf', () => {
  it('derives input variables from the template', () => {
    expect(variantOf('Hi {{name}} about {{topic}}', 'smollm2', 100, undefined)).toEqual({
      name: 'default',
      templateType: 'TEXT',
      modelId: 'smollm2',
      templateConfiguration: { text: { text: 'Hi {{name}} about {{topic}}', inputVariables: [{ name: 'name' }, { name: 'topic' }] } },
      inferenceConfiguration: { text: { maxTokens: 100 } },
    });
    expect(variantOf('plain', '', undefined, undefined)).toEqual({
      name: 'default',
      templateType: 'TEXT',
      templateConfiguration: { text: { text: 'plain', inputVariables: [] } },
    });
  });
});
