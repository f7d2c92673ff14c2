import { EcrException } from '../errors.ts';
import { defineOperation } from '../operation.ts';
import { accountSetting } from './GetAccountSetting.ts';

// Sets one account setting to one of the values ECR allows for it (see ACCOUNT_SETTINGS).
export default defineOperation('PutAccountSetting', async (ctx, input) => {
  await ctx.authorize('ecr:PutAccountSetting');
  const setting = accountSetting(input.name);
  if (!setting.values.includes(input.value)) {
    throw new EcrException(
      'InvalidParameterException',
      `Invalid parameter at 'value' failed to satisfy constraint: 'Member must satisfy enum value set: [${setting.values.join(', ')}]' (${input.name} cannot be "${input.value.slice(0, 100)}")`,
    );
  }
  await ctx.meta.accountSettings.put(ctx.accountId, input.name, input.value);
  ctx.log.info({ account: ctx.accountId, setting: input.name, value: input.value }, 'account setting changed');
  return { name: input.name, value: input.value };
});
