// The account settings ECR knows (PutAccountSetting/GetAccountSetting), their values and defaults:
// one table for the ECR API that sets them and for the authorizer and registry that obey them.
// BLOB_MOUNTING governs cross-repository mounts on /v2/ (ENABLED by default in berth, which mounted
// before the setting existed; ECR starts registries with DISABLED); REGISTRY_POLICY_SCOPE decides
// what the registry policy governs (V2 for new registries, as ECR); BASIC_SCAN_TYPE_VERSION is for
// basic scanning (AWS_NATIVE, ECR's only value now).
export const ACCOUNT_SETTINGS = {
  BASIC_SCAN_TYPE_VERSION: { values: ['AWS_NATIVE'], default: 'AWS_NATIVE' },
  REGISTRY_POLICY_SCOPE: { values: ['V1', 'V2'], default: 'V2' },
  BLOB_MOUNTING: { values: ['ENABLED', 'DISABLED'], default: 'ENABLED' },
} as const satisfies Record<string, { values: readonly string[]; default: string }>;

export type AccountSettingName = keyof typeof ACCOUNT_SETTINGS;
