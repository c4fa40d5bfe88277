using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Ingot.Destinations;
using Ingot.Iceberg.Table;
using Ingot.Sources;

namespace Ingot.Iceberg;

internal sealed partial class IcebergDestination
{
    /// <summary>Attempts of one commit against concurrent writers before the group fails (its units land again next run).</summary>
    internal const int CommitAttempts = 12;

    private int _commitRetries;

    /// <summary>Commits retried after losing the compare-and-swap to another writer (for tests and the run's diagnostics).</summary>
    internal int CommitRetries => Volatile.Read(ref _commitRetries);

    public async Task<IReadOnlyList<Receipt>> CommitGroupAsync(RunContext run, IReadOnlyList<(WorkUnit Unit, Receipt Staged)> units, CancellationToken cancellationToken)
    {
        var staged = units.Select(u => _staged.TryGetValue(u.Staged.Token ?? "", out var s) ? s
            : throw new InvalidOperationException($"chunk '{u.Unit.Key}' was not staged by this destination")).ToList();
        var snapshots = new Dictionary<TableState, long>();
        try
        {
            foreach (var group in staged.GroupBy(s => s.Table))
                snapshots[group.Key] = await CommitTableAsync(run, group.Key, group.ToList(), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Committed or failed, the staged units are done with here (a failed group lands again as new attempts).
            foreach (var s in staged) _staged.TryRemove(s.Attempt, out _);
        }
        return units.Select((u, i) => u.Staged with { Token = snapshots[staged[i].Table].ToString(CultureInfo.InvariantCulture) }).ToList();
    }

    /// <summary>
    /// One snapshot of <paramref name="table"/> holding <paramref name="units"/>: their files in one new manifest (written
    /// once), the files of any unit key the table already holds removed (an overwrite), a new manifest list and metadata
    /// file per attempt, then the catalog's compare-and-swap; on a lost race the table is read again and the commit retried.
    /// </summary>
    private async Task<long> CommitTableAsync(RunContext run, TableState table, List<StagedUnit> units, CancellationToken cancellationToken)
    {
        await table.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var snapshotId = NewSnapshotId();
            var files = units.SelectMany(u => u.Files).ToList();
            var schema = table.Schema;
            var spec = table.Spec ?? [];
            ManifestFile? added = null;
            if (files.Count > 0)
            {
                var bytes = Manifests.WriteAdded(schema, 0, spec, files.Select(f => f.File).ToList());
                var path = await WriteMetadataFileAsync(table, $"{Guid.NewGuid():D}-m0.avro", bytes, cancellationToken).ConfigureAwait(false);
                added = new ManifestFile(path, bytes.Length, 0, 0, 0, 0, snapshotId, files.Count, 0, 0, files.Sum(f => f.File.RecordCount), 0, 0, PartitionSummaries(spec, files.Select(f => f.File).ToList()));
            }
            var replaced = units.SelectMany(u => u.Unit.Replaces).Distinct(StringComparer.Ordinal).ToList();
            for (var attempt = 1; ; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (location, metadata) = await LoadAsync(table, cancellationToken).ConfigureAwait(false);
                var written = new List<string>();
                var committed = false;
                try
                {
                    var next = await BuildAsync(run, table, metadata, location, units, replaced, schema, spec, added, snapshotId, attempt, written, cancellationToken).ConfigureAwait(false);
                    var version = metadata is null ? 0 : metadata.VersionOf(location!) + 1;
                    var file = await WriteMetadataFileAsync(table, $"{version:D5}-{Guid.NewGuid():D}.metadata.json", next.ToUtf8(), cancellationToken).ConfigureAwait(false);
                    written.Add(file);
                    committed = location is null
                        ? await _catalog.CreateAsync(_spec.CatalogName, _spec.Namespace, table.Name, file, cancellationToken).ConfigureAwait(false)
                        : await _catalog.SwapAsync(_spec.CatalogName, _spec.Namespace, table.Name, location, file, cancellationToken).ConfigureAwait(false);
                    if (committed)
                    {
                        table.Adopt(file, next);
                        return snapshotId;
                    }
                }
                finally
                {
                    // Lost the race: nothing references what this attempt wrote. (An exception from the catalog itself leaves
                    // the outcome unknown: the files stay, and the next run reads the table to see whether it landed.)
                    if (!committed && written.Count > 0 && !cancellationToken.IsCancellationRequested)
                        foreach (var w in written) await DeleteUriAsync(w).ConfigureAwait(false);
                }
                Interlocked.Increment(ref _commitRetries);
                if (attempt == CommitAttempts)
                    throw new IOException($"iceberg table {_spec.Namespace}.{table.Name}: {CommitAttempts} commit attempts lost to concurrent writers; the units land again on the next run");
                // Backoff with jitter, bounded: 20 ms .. ~1.3 s.
                var delay = TimeSpan.FromMilliseconds(Math.Min(1280, 20 << Math.Min(attempt, 6)) * (0.5 + Random.Shared.NextDouble()));
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            table.Lock.Release();
        }
    }

    private async Task DeleteUriAsync(string uri)
    {
        if (Locations.Relative(_store, uri) is { } relative) await _store.DeleteAsync(relative, CancellationToken.None).ConfigureAwait(false);
    }

    private async Task<TableMetadata> BuildAsync(RunContext run, TableState table, TableMetadata? metadata, string? location, List<StagedUnit> units, List<string> replaced,
        IcebergSchema schema, IReadOnlyList<PartitionField> spec, ManifestFile? added, long snapshotId, int attempt, List<string> written, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var sequence = (metadata?.LastSequenceNumber ?? 0) + 1;
        var lastColumnId = table.LastColumnId;
        if (metadata is not null)
        {
            schema = Merge(table, metadata.CurrentSchema, schema);
            lastColumnId = Math.Max(lastColumnId, metadata.LastColumnId);
            var theirs = metadata.DefaultSpec;
            if (metadata.DefaultSpecId != 0 || theirs.Count != spec.Count || theirs.Zip(spec).Any(p => p.First.SourceId != p.Second.SourceId || p.First.FieldId != p.Second.FieldId || p.First.Transform != p.Second.Transform))
                throw new InvalidDataException($"iceberg table {_spec.Namespace}.{table.Name}: its partitioning changed under the staged files; the units land again on the next run");
        }
        var manifests = new List<ManifestFile>();
        var parent = metadata?.CurrentSnapshotId;
        JsonObject? parentSummary = parent is { } p ? metadata!.Snapshot(p)?["summary"] as JsonObject : null;
        long deletedFiles = 0, deletedRecords = 0, removedBytes = 0;
        var rewritten = new List<DataFile>();
        if (metadata is not null && parent is not null)
        {
            // Unit keys this commit replaces (the group's own keys already in the table, and retired keys): their rows go,
            // from their own files and from compacted files holding them (see ReplaceUnitsAsync).
            var held = await UnitsAsync(metadata, cancellationToken).ConfigureAwait(false);
            var keys = units.Select(u => u.Unit.Key).Concat(replaced).Where(held.ContainsKey).Distinct(StringComparer.Ordinal).ToList();
            var current = await CurrentFilesAsync(table, metadata, readManifests: keys.Count > 0, cancellationToken).ConfigureAwait(false);
            var (removed, copies) = await ReplaceUnitsAsync(table, schema, spec, current, held, keys, written, cancellationToken).ConfigureAwait(false);
            rewritten.AddRange(copies);
            var (kept, gone) = await KeepAllButAsync(table, current, removed, snapshotId, sequence, written, cancellationToken).ConfigureAwait(false);
            manifests.AddRange(kept);
            deletedFiles = gone.Count;
            deletedRecords = gone.Sum(e => e.RecordCount);
            removedBytes = gone.Sum(e => e.SizeBytes);
        }
        if (rewritten.Count > 0)
        {
            var bytes = Manifests.WriteAdded(schema, 0, spec, rewritten);
            var path = await WriteMetadataFileAsync(table, $"{Guid.NewGuid():D}-m0.avro", bytes, cancellationToken).ConfigureAwait(false);
            written.Add(path);
            manifests.Insert(0, new ManifestFile(path, bytes.Length, 0, 0, sequence, sequence, snapshotId, rewritten.Count, 0, 0, rewritten.Sum(f => f.RecordCount), 0, 0, PartitionSummaries(spec, rewritten)));
        }
        if (added is not null) manifests.Insert(0, added with { SequenceNumber = sequence, MinSequenceNumber = sequence });
        var listBytes = Manifests.WriteList(manifests, snapshotId, parent, sequence);
        var listPath = await WriteMetadataFileAsync(table, $"snap-{snapshotId.ToString(CultureInfo.InvariantCulture)}-{attempt}-{Guid.NewGuid():D}.avro", listBytes, cancellationToken).ConfigureAwait(false);
        written.Add(listPath);

        var addedFiles = units.Sum(u => u.Files.Count) + rewritten.Count;
        var addedRecords = units.Sum(u => u.Files.Sum(f => f.File.RecordCount)) + rewritten.Sum(f => f.RecordCount);
        var addedBytes = units.Sum(u => u.Files.Sum(f => f.File.SizeBytes)) + rewritten.Sum(f => f.SizeBytes);
        var summary = new JsonObject
        {
            ["operation"] = deletedFiles > 0 ? "overwrite" : "append",
            ["added-data-files"] = S(addedFiles),
            ["added-records"] = S(addedRecords),
            ["added-files-size"] = S(addedBytes),
            ["changed-partition-count"] = S(units.SelectMany(u => u.Files).Select(f => f.File).Concat(rewritten).Select(f => string.Join('/', f.Partition)).Distinct().Count()),
            ["total-data-files"] = S(manifests.Sum(m => (long)m.AddedFiles + m.ExistingFiles)),
            ["total-records"] = S(manifests.Sum(m => m.AddedRows + m.ExistingRows)),
            ["total-delete-files"] = "0",
            ["total-position-deletes"] = "0",
            ["total-equality-deletes"] = "0",
            ["engine-name"] = "ingot",
            [RunKey] = run.RunId.ToString(),
            [UnitsKey] = new JsonArray(units.Select(u => (JsonNode)new JsonObject
            {
                ["key"] = u.Unit.Key,
                ["stream"] = u.Unit.Stream,
                ["attempt"] = u.Attempt,
                ["records"] = u.Records,
                ["files"] = u.Files.Count,
                ["identity"] = u.Unit.Identity.Text,
                ["bounds"] = u.Unit.Bounds.ToJson(),
                ["checkpoint"] = u.Checkpoint,
            }).ToArray()).ToJsonString(),
        };
        if (parentSummary?["total-files-size"]?.GetValue<string>() is { } total && long.TryParse(total, CultureInfo.InvariantCulture, out var totalBytes))
            summary["total-files-size"] = S(totalBytes + addedBytes - removedBytes);
        else if (parent is null) summary["total-files-size"] = S(addedBytes);
        if (deletedFiles > 0)
        {
            summary["deleted-data-files"] = S(deletedFiles);
            summary["deleted-records"] = S(deletedRecords);
            summary["removed-files-size"] = S(removedBytes);
        }
        if (replaced.Count > 0) summary[RetiredKey] = new JsonArray(replaced.Select(k => (JsonNode)k).ToArray()).ToJsonString();
        var snapshot = new JsonObject
        {
            ["snapshot-id"] = snapshotId,
            ["sequence-number"] = sequence,
            ["timestamp-ms"] = now,
            ["manifest-list"] = listPath,
            ["summary"] = summary,
        };
        if (parent is { } pid) snapshot["parent-snapshot-id"] = pid;
        var schemaForTable = schema;
        return metadata is null
            ? TableMetadata.Create(table.Location, schemaForTable with { SchemaId = 0 }, lastColumnId, spec, now).Commit(null, snapshot, schemaForTable with { SchemaId = 0 }, lastColumnId, now)
            : metadata.Commit(location, snapshot, schemaForTable, lastColumnId, now);
    }

    /// <summary>Positive and random (spec Appendix F), and within a double's exact integers so JSON readers without 64-bit numbers (icebird) keep it.</summary>
    private static long NewSnapshotId()
    {
        Span<byte> b = stackalloc byte[8];
        RandomNumberGenerator.Fill(b);
        return (long)(BitConverter.ToUInt64(b) & ((1UL << 53) - 1)) | 1;
    }

    private static string S(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string FileName(string path) => path[(path.LastIndexOf('/') + 1)..];

    /// <summary>
    /// The table's current columns plus the ones the staged files added. A staged column whose id a concurrent writer gave
    /// another column, or whose name it gave another id, would make the staged files lie: the group fails instead.
    /// </summary>
    private IcebergSchema Merge(TableState table, IcebergSchema theirs, IcebergSchema ours)
    {
        var fields = theirs.Fields.ToList();
        foreach (var f in ours.Fields)
        {
            var byId = theirs.Fields.FirstOrDefault(x => x.Id == f.Id);
            var byName = theirs.Field(f.Name);
            if (byId is not null && byId != f || byName is not null && byName != f)
                throw new InvalidDataException($"iceberg table {_spec.Namespace}.{table.Name}: another writer changed the schema (column '{f.Name}', field id {f.Id}) under the staged files; the units land again on the next run");
            if (byId is null) fields.Add(f);
        }
        return theirs with { Fields = fields };
    }

    /// <summary>Per partition field: nulls present and the lowest and highest value, for the manifest list (readers prune manifests by it).</summary>
    private static List<FieldSummary> PartitionSummaries(IReadOnlyList<PartitionField> spec, IReadOnlyList<DataFile> files)
    {
        var result = new List<FieldSummary>();
        for (var i = 0; i < spec.Count; i++)
        {
            var values = files.Select(f => f.Partition[i]).ToList();
            var present = values.Where(v => v is not null).Select(v => v!).ToList();
            if (present.Count == 0)
            {
                result.Add(new FieldSummary(true, null, null, null));
                continue;
            }
            var sorted = present.OrderBy(v => v, Comparer<object>.Create(ComparePartition)).ToList();
            var type = spec[i].ResultType;
            bool? nan = type == "double" ? present.Any(v => v is double d && double.IsNaN(d)) : null;
            var bounds = present.Where(v => v is not double d || !double.IsNaN(d)).ToList();
            result.Add(new FieldSummary(values.Count != present.Count, nan,
                bounds.Count == 0 ? null : SingleValue.Encode(type, sorted.First(v => v is not double d || !double.IsNaN(d))),
                bounds.Count == 0 ? null : SingleValue.Encode(type, sorted.Last(v => v is not double d || !double.IsNaN(d)))));
        }
        return result;
    }

    private static int ComparePartition(object a, object b) => (a, b) switch
    {
        (int x, int y) => x.CompareTo(y),
        (long x, long y) => x.CompareTo(y),
        (double x, double y) => x.CompareTo(y),
        (bool x, bool y) => x.CompareTo(y),
        (string x, string y) => System.Text.Encoding.UTF8.GetBytes(x).AsSpan().SequenceCompareTo(System.Text.Encoding.UTF8.GetBytes(y)),
        _ => 0,
    };
}
