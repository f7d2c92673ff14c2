// The one table mapping each /v2/ request to the IAM action(s) it needs, as ECR documents them.
export type OciOperation =
  | 'base'
  | 'catalog'
  | 'manifest.get'
  | 'manifest.put'
  | 'manifest.delete'
  | 'blob.get'
  | 'blob.delete'
  | 'upload.start'
  | 'upload.mount'
  | 'upload.chunk'
  | 'upload.complete'
  | 'upload.status'
  | 'upload.cancel'
  | 'tags.list'
  | 'referrers.list'
  | 'sbom.get';

export const OCI_ACTIONS: Record<OciOperation, readonly string[]> = {
  base: [],
  catalog: ['ecr:DescribeRepositories'],
  'manifest.get': ['ecr:BatchGetImage'],
  'manifest.put': ['ecr:PutImage'],
  'manifest.delete': ['ecr:BatchDeleteImage'],
  'blob.get': ['ecr:GetDownloadUrlForLayer'],
  'blob.delete': ['ecr:BatchDeleteImage'],
  'upload.start': ['ecr:InitiateLayerUpload'],
  // A mount also needs read access to the source repository (checked on that resource).
  'upload.mount': ['ecr:InitiateLayerUpload', 'ecr:CompleteLayerUpload'],
  'upload.chunk': ['ecr:UploadLayerPart'],
  'upload.complete': ['ecr:CompleteLayerUpload'],
  'upload.status': ['ecr:UploadLayerPart'],
  'upload.cancel': ['ecr:UploadLayerPart'],
  'tags.list': ['ecr:ListImages'],
  'referrers.list': ['ecr:BatchGetImage'],
  // berth's own SBOM endpoint reads what a scan found, as DescribeImageScanFindings does.
  'sbom.get': ['ecr:DescribeImageScanFindings'],
};

export function repositoryArn(region: string, accountId: string, name: string): string {
  return `arn:aws:ecr:${region}:${accountId}:repository/${name}`;
}
