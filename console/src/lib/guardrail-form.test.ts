import { describe, expect, it } from 'vitest';
import { definitionOf, emptyForm, formErrors, formFromGuardrail } from './guardrail-form';

describe('guardrail form', () => {
  it('maps a form to a CreateGuardrail body and back', () => {
    const f = emptyForm();
    f.name = 'no-cards';
    f.description = ' blocks cards ';
    f.content.HATE = { input: 'HIGH', output: 'MEDIUM' };
    f.content.PROMPT_ATTACK = { input: 'HIGH', output: 'HIGH' };
    f.topics = [{ name: 'Investing', definition: 'Advice on stocks', examples: 'Should I buy X?\n\n' }];
    f.words = 'darn, heck\nshoot';
    f.profanity = true;
    f.pii = { CREDIT_DEBIT_CARD_NUMBER: 'BLOCK', EMAIL: 'ANONYMIZE', NAME: '' };
    f.regexes = [{ name: 'acct', pattern: 'ACCT-\\d+', action: 'ANONYMIZE' }];
    f.grounding = '0.7';
    const body = definitionOf(f);
    expect(body).toEqual({
      name: 'no-cards',
      description: 'blocks cards',
      blockedInputMessaging: f.blockedInputMessaging,
      blockedOutputsMessaging: f.blockedOutputsMessaging,
      contentPolicyConfig: {
        filtersConfig: [
          { type: 'HATE', inputStrength: 'HIGH', outputStrength: 'MEDIUM' },
          { type: 'PROMPT_ATTACK', inputStrength: 'HIGH', outputStrength: 'NONE' },
        ],
      },
      topicPolicyConfig: { topicsConfig: [{ name: 'Investing', definition: 'Advice on stocks', type: 'DENY', examples: ['Should I buy X?'] }] },
      wordPolicyConfig: { wordsConfig: [{ text: 'darn' }, { text: 'heck' }, { text: 'shoot' }], managedWordListsConfig: [{ type: 'PROFANITY' }] },
      sensitiveInformationPolicyConfig: {
        piiEntitiesConfig: [
          { type: 'CREDIT_DEBIT_CARD_NUMBER', action: 'BLOCK' },
          { type: 'EMAIL', action: 'ANONYMIZE' },
        ],
        regexesConfig: [{ name: 'acct', pattern: 'ACCT-\\d+', action: 'ANONYMIZE' }],
      },
      contextualGroundingPolicyConfig: { filtersConfig: [{ type: 'GROUNDING', threshold: 0.7 }] },
    });
    // GetGuardrail answers with the policy names without "Config".
    const got = {
      name: 'no-cards',
      description: 'blocks cards',
      blockedInputMessaging: f.blockedInputMessaging,
      blockedOutputsMessaging: f.blockedOutputsMessaging,
      contentPolicy: { filters: [{ type: 'HATE', inputStrength: 'HIGH', outputStrength: 'MEDIUM' }, { type: 'PROMPT_ATTACK', inputStrength: 'HIGH', outputStrength: 'NONE' }] },
      topicPolicy: { topics: [{ name: 'Investing', definition: 'Advice on stocks', type: 'DENY', examples: ['Should I buy X?'] }] },
      wordPolicy: { words: [{ text: 'darn' }, { text: 'heck' }, { text: 'shoot' }], managedWordLists: [{ type: 'PROFANITY' }] },
      sensitiveInformationPolicy: {
        piiEntities: [
          { type: 'CREDIT_DEBIT_CARD_NUMBER', action: 'BLOCK' },
          { type: 'EMAIL', action: 'ANONYMIZE' },
        ],
        regexes: [{ name: 'acct', pattern: 'ACCT-\\d+', action: 'ANONYMIZE' }],
      },
      contextualGroundingPolicy: { filters: [{ type: 'GROUNDING', threshold: 0.7 }] },
    };
    const back = formFromGuardrail(got);
    expect(definitionOf(back)).toEqual(body);
  });

  it('leaves out empty policies', () => {
    const f = emptyForm();
    f.name = 'g';
    expect(Object.keys(definitionOf(f))).toEqual(['name', 'blockedInputMessaging', 'blockedOutputsMessaging']);
  });

  it('reports what blocks saving', () => {
    const f = emptyForm();
    f.name = 'bad name';
    f.topics = [{ name: '', definition: '', examples: '' }];
    f.regexes = [{ name: 'r', pattern: '(', action: 'BLOCK' }];
    f.grounding = '1.5';
    f.blockedInputMessaging = ' ';
    expect(formErrors(f)).toEqual([
      'Name: 1–50 letters, digits, _ or -.',
      'Blocked input message is required.',
      'Denied topic 1: name and definition are required.',
      'Regex 1: the pattern does not compile.',
      'Grounding threshold is a number from 0 to 0.99.',
    ]);
    const ok = emptyForm();
    ok.name = 'fine_1';
    expect(formErrors(ok)).toEqual([]);
  });

  it('tolerates odd server answers', () => {
    expect(() => formFromGuardrail(null)).not.toThrow();
    expect(formFromGuardrail({ contentPolicy: { filters: 'x' }, topicPolicy: [1] }).topics).toEqual([]);
  });
});
