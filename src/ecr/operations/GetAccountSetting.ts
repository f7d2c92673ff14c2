import { ACCOUNT_SETTINGS } from '../../core/account-settings.ts';
import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';

/** The setting's definition, or InvalidParameterException naming the settings there are. */
export function accountSetting(name: string): { values: readonly string[]; default: string } {
  const s: { values: readonly string[]; default: string } | undefined = Object.hasOwn(ACCOUNT_SETTINGS, name) ? ACCOUNT_SETTINGS[name as keyof typeof ACCOUNT_SETTINGS] : undefined;
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
