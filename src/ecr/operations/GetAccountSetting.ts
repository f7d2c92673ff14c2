import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';

/**
 * The account settings ECR knows, their values and defaults. BLOB_MOUNTING governs cross-repository
 * mounts on /v2/ (ENABLED by default in berth, which mounted before the setting existed; ECR starts
 * registries with DISABLED); REGISTRY_POLICY_SCOPE is kept for registry policies (V2 for new
 * registries, as ECR); BASIC_SCAN_TYPE_VERSION for basic scanning (AWS_NATIVE, ECR's only value now).
 */
export const ACCOUNT_SETTINGS: Readonly<Record<string, { values: readonly string[]; default: string }>> = {
  BASIC_SCAN_TYPE_VERSION: { values: ['AWS_NATIVE'], default: 'AWS_NATIVE' },
  REGISTRY_POLICY_SCOPE: { values: ['V1', 'V2'], default: 'V2' },
  BLOB_MOUNTING: { values: ['ENABLED', 'DISABLED'], default: 'ENABLED' },
};

/** The setting's definition, or InvalidParameterException naming the settings there are. */
export function accountSetting(name: string): { values: readonly string[]; default: string } {
  const s = Object.hasOwn(ACCOUNT_SETTINGS, name) ? ACCOUNT_SETTINGS[name] : undefined;
  if (s === undefined) {
    throw new EcrException('InvalidParameterException', `Invalid parameter at 'name' failed to satisfy constraint: 'Member must satisfy enum value set: [${Object.keys(ACCOUNT_SETTINGS).join(', ')}]'`);
  }
  return s;
}

export default defineOperation('GetAccountSetting', async (ctx, input) => {
  await ctx.authorize('ecr:GetAccountSetting');
  const setting = accountSetting(input.name);
  const value = (await ctx.meta.accountSettings.get(ctx.accountId, input.name)) ?? setting.default;
  return { name: input.name, value };
});
