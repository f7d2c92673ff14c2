// NuGet packages (OSV ecosystem `NuGet`) from a .NET application's `*.deps.json`
// (https://github.com/dotnet/sdk/blob/main/documentation/specs/runtime-configuration-file.md):
// the `libraries` entries of `"type": "package"`, keyed `Name/1.2.3`; `project` and `reference`
// entries are the application's own assemblies.
import type { Extractor, FileEntry, Package, ScanLimits } from '../../types.ts';
import { checkFileSize, PackageList, parseJson, purl, recordAt, stringAt } from './common.ts';

export const depsJsonExtractor: Extractor = {
  name: 'nuget/deps-json',
  wants: (entry) => entry.path.endsWith('.deps.json'),
  extract(entry: FileEntry, content: Buffer, limits: ScanLimits): Package[] {
    checkFileSize(entry, content, limits);
    const list = new PackageList(entry, 'NuGet', (name, version) => purl('nuget', undefined, name, version));
    for (const [key, library] of Object.entries(recordAt(parseJson(content), 'libraries') ?? {})) {
      const slash = key.lastIndexOf('/');
      if (slash > 0 && stringAt(library, 'type') === 'package') list.add(key.slice(0, slash), key.slice(slash + 1));
    }
    return list.packages;
  },
};
