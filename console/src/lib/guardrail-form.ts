// The guardrail editor's form state and its mapping to and from the Bedrock
// control-plane shapes (GetGuardrail's answer, Create/UpdateGuardrail's body).

/** CONTENT_TYPES are Bedrock's content filter categories. */
export const CONTENT_TYPES = ['HATE', 'INSULTS', 'SEXUAL', 'VIOLENCE', 'MISCONDUCT', 'PROMPT_ATTACK'] as const;
/** STRENGTHS are the filter strengths. */
export const STRENGTHS = ['NONE', 'LOW', 'MEDIUM', 'HIGH'] as const;
/** PII_TYPES are the PII entity types the server knows, in Bedrock's order. */
export const PII_TYPES = [
  'ADDRESS', 'AGE', 'AWS_ACCESS_KEY', 'AWS_SECRET_KEY', 'CA_HEALTH_NUMBER', 'CA_SOCIAL_INSURANCE_NUMBER',
  'CREDIT_DEBIT_CARD_CVV', 'CREDIT_DEBIT_CARD_EXPIRY', 'CREDIT_DEBIT_CARD_NUMBER', 'DRIVER_ID', 'EMAIL',
  'INTERNATIONAL_BANK_ACCOUNT_NUMBER', 'IP_ADDRESS', 'LICENSE_PLATE', 'MAC_ADDRESS', 'NAME', 'PASSWORD',
  'PHONE', 'PIN', 'SWIFT_CODE', 'UK_NATIONAL_HEALTH_SERVICE_NUMBER', 'UK_NATIONAL_INSURANCE_NUMBER',
  'UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER', 'URL', 'USERNAME', 'US_BANK_ACCOUNT_NUMBER', 'US_BANK_ROUTING_NUMBER',
  'US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER', 'US_PASSPORT_NUMBER', 'US_SOCIAL_SECURITY_NUMBER',
  'VEHICLE_IDENTIFICATION_NUMBER',
];

/** Topic is a denied topic. */
export interface TopicForm {
  name: string;
  definition: string;
  examples: string;
}

/** RegexForm is a custom sensitive-information pattern. */
export interface RegexForm {
  name: string;
  pattern: string;
  action: 'BLOCK' | 'ANONYMIZE';
}

/** GuardrailForm is everything the editor edits. */
export interface GuardrailForm {
  name: string;
  description: string;
  blockedInputMessaging: string;
  blockedOutputsMessaging: string;
  content: Record<string, { input: string; output: string }>;
  topics: TopicForm[];
  words: string;
  profanity: boolean;
  pii: Record<string, 'BLOCK' | 'ANONYMIZE' | ''>;
  regexes: RegexForm[];
  grounding: string;
  relevance: string;
}

/** emptyForm is a new guardrail's form. */
export function emptyForm(): GuardrailForm {
  return {
    name: '',
    description: '',
    blockedInputMessaging: 'Sorry, I cannot help with that request.',
    blockedOutputsMessaging: 'Sorry, I cannot provide that answer.',
    content: Object.fromEntries(CONTENT_TYPES.map((t) => [t, { input: 'NONE', output: 'NONE' }])),
    topics: [],
    words: '',
    profanity: false,
    pii: {},
    regexes: [],
    grounding: '',
    relevance: '',
  };
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v as unknown[]).map(obj) : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

/** formFromGuardrail reads GetGuardrail's answer into the form. */
export function formFromGuardrail(g: unknown): GuardrailForm {
  const d = obj(g);
  const f = emptyForm();
  f.name = str(d.name);
  f.description = str(d.description);
  f.blockedInputMessaging = str(d.blockedInputMessaging);
  f.blockedOutputsMessaging = str(d.blockedOutputsMessaging);
  for (const c of arr(obj(d.contentPolicy).filters)) {
    const t = str(c.type);
    f.content[t] = { input: str(c.inputStrength) || 'NONE', output: str(c.outputStrength) || 'NONE' };
  }
  f.topics = arr(obj(d.topicPolicy).topics).map((t) => ({
    name: str(t.name),
    definition: str(t.definition),
    examples: (Array.isArray(t.examples) ? (t.examples as unknown[]).map(str) : []).join('\n'),
  }));
  const wp = obj(d.wordPolicy);
  f.words = arr(wp.words)
    .map((w) => str(w.text))
    .join('\n');
  f.profanity = arr(wp.managedWordLists).some((m) => str(m.type) === 'PROFANITY');
  const sp = obj(d.sensitiveInformationPolicy);
  for (const p of arr(sp.piiEntities)) {
    const a = str(p.action);
    f.pii[str(p.type)] = a === 'ANONYMIZE' ? 'ANONYMIZE' : 'BLOCK';
  }
  f.regexes = arr(sp.regexes).map((r) => ({ name: str(r.name), pattern: str(r.pattern), action: str(r.action) === 'ANONYMIZE' ? 'ANONYMIZE' : 'BLOCK' }));
  for (const g2 of arr(obj(d.contextualGroundingPolicy).filters)) {
    if (str(g2.type) === 'GROUNDING') f.grounding = str(g2.threshold);
    if (str(g2.type) === 'RELEVANCE') f.relevance = str(g2.threshold);
  }
  return f;
}

/** formErrors lists what must be fixed before saving. */
export function formErrors(f: GuardrailForm): string[] {
  const out: string[] = [];
  if (!/^[0-9a-zA-Z_-]{1,50}$/.test(f.name)) out.push('Name: 1–50 letters, digits, _ or -.');
  if (!f.blockedInputMessaging.trim()) out.push('Blocked input message is required.');
  if (!f.blockedOutputsMessaging.trim()) out.push('Blocked output message is required.');
  f.topics.forEach((t, i) => {
    if (!t.name.trim() || !t.definition.trim()) out.push(`Denied topic ${i + 1}: name and definition are required.`);
  });
  f.regexes.forEach((r, i) => {
    if (!r.name.trim() || !r.pattern) out.push(`Regex ${i + 1}: name and pattern are required.`);
    else {
      try {
        new RegExp(r.pattern);
      } catch {
        out.push(`Regex ${i + 1}: the pattern does not compile.`);
      }
    }
  });
  for (const [k, v] of [
    ['Grounding', f.grounding],
    ['Relevance', f.relevance],
  ] as const) {
    if (v.trim() !== '') {
      const n = Number(v);
      if (!(n >= 0 && n < 1)) out.push(`${k} threshold is a number from 0 to 0.99.`);
    }
  }
  return out;
}

/** definitionOf builds the Create/UpdateGuardrail body of the form. */
export function definitionOf(f: GuardrailForm): Obj {
  const body: Obj = {
    name: f.name.trim(),
    blockedInputMessaging: f.blockedInputMessaging,
    blockedOutputsMessaging: f.blockedOutputsMessaging,
  };
  if (f.description.trim()) body.description = f.description.trim();
  const filters = CONTENT_TYPES.map((t) => ({
    type: t,
    inputStrength: f.content[t]?.input ?? 'NONE',
    // Bedrock requires NONE output strength for PROMPT_ATTACK.
    outputStrength: t === 'PROMPT_ATTACK' ? 'NONE' : (f.content[t]?.output ?? 'NONE'),
  })).filter((x) => x.inputStrength !== 'NONE' || x.outputStrength !== 'NONE');
  if (filters.length) body.contentPolicyConfig = { filtersConfig: filters };
  if (f.topics.length) {
    body.topicPolicyConfig = {
      topicsConfig: f.topics.map((t) => {
        const ex = t.examples
          .split('\n')
          .map((s) => s.trim())
          .filter(Boolean);
        return { name: t.name.trim(), definition: t.definition.trim(), type: 'DENY', ...(ex.length ? { examples: ex } : {}) };
      }),
    };
  }
  const words = f.words
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (words.length || f.profanity) {
    body.wordPolicyConfig = {
      ...(words.length ? { wordsConfig: words.map((text) => ({ text })) } : {}),
      ...(f.profanity ? { managedWordListsConfig: [{ type: 'PROFANITY' }] } : {}),
    };
  }
  const pii = Object.entries(f.pii)
    .filter(([, a]) => a)
    .map(([type, action]) => ({ type, action }));
  if (pii.length || f.regexes.length) {
    body.sensitiveInformationPolicyConfig = {
      ...(pii.length ? { piiEntitiesConfig: pii } : {}),
      ...(f.regexes.length ? { regexesConfig: f.regexes.map((r) => ({ name: r.name.trim(), pattern: r.pattern, action: r.action })) } : {}),
    };
  }
  const grounding = [
    ['GROUNDING', f.grounding],
    ['RELEVANCE', f.relevance],
  ]
    .filter(([, v]) => v.trim() !== '')
    .map(([type, v]) => ({ type, threshold: Number(v) }));
  if (grounding.length) body.contextualGroundingPolicyConfig = { filtersConfig: grounding };
  return body;
}
