// Public API of the plan engine (pure: no kernel access).
export type { Change, ChangeAction, FieldChange, Inventory, Plan } from './types';
export { EMPTY_INVENTORY } from './types';
export { computePlan, isOwned, type PlanInput } from './compute';
export { renderText, renderMarkdown, planToJson, summarize, summaryLine, type PlanSummary } from './render';
export { diffResource, declaredFields, isImmutable, deepEqual } from './compare';
export { fmtScalar } from './format';
export { compileIgnore, isIgnored } from './ignore';
