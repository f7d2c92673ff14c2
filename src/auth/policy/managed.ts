// The AWS managed policies of ECR, with their exact documents (the default versions AWS publishes in
// the managed policy reference), attachable to users, groups and roles by ARN.

export interface ManagedPolicy {
  name: string;
  arn: string;
  description: string;
  /** The policy document as AWS publishes it. */
  document: string;
}

const READ_ACTIONS = [
  'ecr:GetAuthorizationToken',
  'ecr:BatchCheckLayerAvailability',
  'ecr:GetDownloadUrlForLayer',
  'ecr:GetRepositoryPolicy',
  'ecr:DescribeRepositories',
  'ecr:ListImages',
  'ecr:DescribeImages',
  'ecr:BatchGetImage',
  'ecr:GetLifecyclePolicy',
  'ecr:GetLifecyclePolicyPreview',
  'ecr:ListTagsForResource',
  'ecr:DescribeImageScanFindings',
];

const doc = (statements: ReadonlyArray<Record<string, unknown>>): string => JSON.stringify({ Version: '2012-10-17', Statement: statements });

function managed(name: string, description: string, statements: ReadonlyArray<Record<string, unknown>>): ManagedPolicy {
  return { name, arn: `arn:aws:iam::aws:policy/${name}`, description, document: doc(statements) };
}

export const MANAGED_POLICIES: readonly ManagedPolicy[] = [
  managed('AmazonEC2ContainerRegistryReadOnly', 'Provides read-only access to Amazon EC2 Container Registry repositories.', [{ Effect: 'Allow', Action: READ_ACTIONS, Resource: '*' }]),
  managed('AmazonEC2ContainerRegistryPowerUser', 'Provides full access to Amazon EC2 Container Registry repositories, but does not allow repository deletion or policy changes.', [
    { Effect: 'Allow', Action: [...READ_ACTIONS, 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage'], Resource: '*' },
  ]),
  managed('AmazonEC2ContainerRegistryFullAccess', 'Provides administrative access to Amazon ECR resources', [
    { Effect: 'Allow', Action: ['ecr:*', 'cloudtrail:LookupEvents'], Resource: '*' },
    { Effect: 'Allow', Action: ['iam:CreateServiceLinkedRole'], Resource: '*', Condition: { StringEquals: { 'iam:AWSServiceName': ['replication.ecr.amazonaws.com'] } } },
  ]),
  managed('AmazonEC2ContainerRegistryPullOnly', 'Provides permission to pull images from Amazon EC2 Container Registry repositories.', [
    { Effect: 'Allow', Action: ['ecr:GetAuthorizationToken', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchImportUpstreamImage'], Resource: '*' },
  ]),
];

/** The managed policy with that ARN, if AWS manages it here. */
export function managedPolicy(arn: string): ManagedPolicy | undefined {
  return MANAGED_POLICIES.find((p) => p.arn === arn);
}
