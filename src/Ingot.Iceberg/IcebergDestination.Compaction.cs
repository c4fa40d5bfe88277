using System.Globalization;
using System.Text.Json.Nodes;
using Ingot.Iceberg.Table;

namespace Ingot.Iceberg;

/// <summary>One group of small files compaction merges (or, with a dry run, would merge) into one file.</summary>
internal sealed record CompactionGroup(string Partition, IReadOnlyList<string> Inputs, long InputBytes, long Records, long? OutputBytes);

/// <summary>What <c>ingot iceberg … compact</c> did to one table: live data files and bytes before and after, the groups merged.</summary>
internal sealed record CompactionResult(string Table, int FilesBefore, int FilesAfter, long BytesBefore, long BytesAfter, IReadOnlyList<CompactionGroup> Groups, bool DryRun, string? Skipped = null);

internal sealed partial class IcebergDestination
{
    /// <summary>A live data file below this share of <c>target_file_size</c> is small (Spark's <c>min-file-size-bytes</c> default).</summary>
    internal const double SmallFileShare = 0.75;

    /// <summary>Runs after a compaction attempt wrote its files and before its compare-and-swap (a seam for tests: a concurrent commit lands exactly there).</summary>
    internal Func<CancellationToken, Task>? BeforeCompactionSwap { get; set; }

    /// <summary>
    /// Rewrites, per partition, the small live data files (at least two of them) into files of about the target size with
    /// the same rows, ordered by <c>_chunk_key</c>, and commits them as one <c>replace</c> snapshot (the old entries DELETED,
    /// the new ADDED) by compare-and-swap. On a lost race it plans again against the new metadata: a file no longer live
    /// (a concurrent refresh replaced its unit) leaves the plan, so its rows are never brought back; groups whose inputs
    /// are unchanged keep the file already written. Tables with delete files are left as they are.
    /// </summary>
    public async Task<CompactionResult> CompactAsync(string stream, bool dryRun, CancellationToken cancellationToken)
    {
        var table = TableFor(stream);
        var outputs = new Dictionary<string, DataFile>(StringComparer.Ordinal);
        var committed = new HashSet<string>(StringComparer.Ordinal);
        await table.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (location, metadata) = await LoadAsync(table, cancellationToken).ConfigureAwait(false);
                if (metadata is null || location is null || metadata.CurrentSnapshotId is null) return new(table.Name, 0, 0, 0, 0, [], dryRun);
                var files = await CurrentFilesAsync(table, metadata, readManifests: true, cancellationToken).ConfigureAwait(false);
                var live = files.Live.ToList();
                var (before, bytesBefore) = (live.Count, live.Sum(e => e.SizeBytes));
                if (files.List.Any(m => m.Content != 0 && m.AddedFiles + m.ExistingFiles > 0))
                    return new(table.Name, before, before, bytesBefore, bytesBefore, [], dryRun, "the table has delete files (another writer's); Ingot compacts tables without them only");
                var spec = metadata.DefaultSpec;
                var groups = PlanCompaction(live, spec);
                var plan = groups.Select(g => new CompactionGroup(g.Partition, g.Inputs.Select(e => e.Path).ToList(), g.Inputs.Sum(e => e.SizeBytes), g.Inputs.Sum(e => e.RecordCount), null)).ToList();
                if (groups.Count == 0 || dryRun)
                    return new(table.Name, before, before - groups.Sum(g => g.Inputs.Count - 1), bytesBefore, bytesBefore, plan, dryRun);

                var schema = metadata.CurrentSchema;
                var snapshotId = NewSnapshotId();
                var sequence = metadata.LastSequenceNumber + 1;
                var written = new List<string>();
                var done = false;
                try
                {
                    var added = new List<DataFile>();
                    foreach (var g in groups)
                    {
                        var key = string.Join('\n', g.Inputs.Select(e => e.Path));
                        if (!outputs.TryGetValue(key, out var file))
                        {
                            var produced = new List<string>();
                            (file, _) = await RewriteAsync(table, schema, g.Inputs, PartitionOf(g.Inputs[0], spec), [], produced, cancellationToken).ConfigureAwait(false);
                            outputs[key] = file ?? throw new InvalidDataException($"iceberg table {table.Name}: compacting {g.Inputs.Count} files of partition {g.Partition} wrote nothing");
                        }
                        added.Add(file);
                    }
                    var removed = groups.SelectMany(g => g.Inputs.Select(e => e.Path)).ToHashSet(StringComparer.Ordinal);
                    var (kept, gone) = await KeepAllButAsync(table, files, removed, snapshotId, sequence, written, cancellationToken).ConfigureAwait(false);
                    var manifestBytes = Manifests.WriteAdded(schema, metadata.DefaultSpecId, spec, added);
                    var manifestPath = await WriteMetadataFileAsync(table, $"{Guid.NewGuid():D}-m0.avro", manifestBytes, cancellationToken).ConfigureAwait(false);
                    written.Add(manifestPath);
                    var manifests = new List<ManifestFile>
                    {
                        new(manifestPath, manifestBytes.Length, metadata.DefaultSpecId, 0, sequence, sequence, snapshotId, added.Count, 0, 0, added.Sum(f => f.RecordCount), 0, 0, PartitionSummaries(spec, added)),
                    };
                    manifests.AddRange(kept);
                    var parent = metadata.CurrentSnapshotId.Value;
                    var listBytes = Manifests.WriteList(manifests, snapshotId, parent, sequence);
                    var listPath = await WriteMetadataFileAsync(table, $"snap-{snapshotId.ToString(CultureInfo.InvariantCulture)}-{attempt}-{Guid.NewGuid():D}.avro", listBytes, cancellationToken).ConfigureAwait(false);
                    written.Add(listPath);
                    var (addedBytes, removedBytes) = (added.Sum(f => f.SizeBytes), gone.Sum(e => e.SizeBytes));
                    var summary = new JsonObject
                    {
                        ["operation"] = "replace",
                        ["added-data-files"] = S(added.Count),
                        ["deleted-data-files"] = S(gone.Count),
                        ["added-records"] = S(added.Sum(f => f.RecordCount)),
                        ["deleted-records"] = S(gone.Sum(e => e.RecordCount)),
                        ["added-files-size"] = S(addedBytes),
                        ["removed-files-size"] = S(removedBytes),
                        ["changed-partition-count"] = S(groups.Select(g => g.Partition).Distinct(StringComparer.Ordinal).Count()),
                        ["total-data-files"] = S(manifests.Sum(m => (long)m.AddedFiles + m.ExistingFiles)),
                        ["total-records"] = S(manifests.Sum(m => m.AddedRows + m.ExistingRows)),
                        ["total-files-size"] = S(bytesBefore + addedBytes - removedBytes),
                        ["total-delete-files"] = "0",
                        ["total-position-deletes"] = "0",
                        ["total-equality-deletes"] = "0",
                        ["engine-name"] = "ingot",
                    };
                    var snapshot = new JsonObject
                    {
                        ["snapshot-id"] = snapshotId,
                        ["parent-snapshot-id"] = parent,
                        ["sequence-number"] = sequence,
                        ["timestamp-ms"] = _time.GetUtcNow().ToUnixTimeMilliseconds(),
                        ["manifest-list"] = listPath,
                        ["summary"] = summary,
                    };
                    var next = metadata.Commit(location, snapshot, schema, metadata.LastColumnId, _time.GetUtcNow().ToUnixTimeMilliseconds());
                    var path = await WriteMetadataFileAsync(table, $"{metadata.VersionOf(location) + 1:D5}-{Guid.NewGuid():D}.metadata.json", next.ToUtf8(), cancellationToken).ConfigureAwait(false);
                    written.Add(path);
                    if (BeforeCompactionSwap is { } hook) await hook(cancellationToken).ConfigureAwait(false);
                    done = await _catalog.SwapAsync(_spec.CatalogName, _spec.Namespace, table.Name, location, path, cancellationToken).ConfigureAwait(false);
                    if (done)
                    {
                        table.Adopt(path, next);
                        foreach (var f in added) committed.Add(f.Path);
                        var result = groups.Select((g, i) => plan[i] with { OutputBytes = added[i].SizeBytes }).ToList();
                        return new(table.Name, before, before - gone.Count + added.Count, bytesBefore, bytesBefore - removedBytes + addedBytes, result, false);
                    }
                }
                finally
                {
                    if (!done && written.Count > 0 && !cancellationToken.IsCancellationRequested)
                        foreach (var w in written) await DeleteUriAsync(w).ConfigureAwait(false);
                }
                Interlocked.Increment(ref _commitRetries);
                if (attempt == CommitAttempts) throw new IOException($"iceberg table {_spec.Namespace}.{table.Name}: compact lost {CommitAttempts} commits to concurrent writers; run it again");
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1280, 20 << Math.Min(attempt, 6)) * (0.5 + Random.Shared.NextDouble())), _time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            table.Lock.Release();
            // Files written for a plan that did not land (its inputs changed, or the commit failed): nothing references them.
            foreach (var f in outputs.Values.Where(f => !committed.Contains(f.Path))) await DeleteUriAsync(f.Path).ConfigureAwait(false);
        }
    }

    private sealed record PlannedGroup(string Partition, List<EntryInfo> Inputs);

    /// <summary>Per partition, its small files in manifest order, packed into groups up to the target size; a group of one is no merge.</summary>
    private List<PlannedGroup> PlanCompaction(IReadOnlyList<EntryInfo> live, IReadOnlyList<PartitionField> spec)
    {
        var small = (long)(_spec.TargetFileBytes * SmallFileShare);
        var groups = new List<PlannedGroup>();
        foreach (var partition in live.Where(e => e.SizeBytes < small).GroupBy(e => PartitionText(PartitionOf(e, spec), spec), StringComparer.Ordinal))
        {
            var files = partition.ToList();
            if (files.Count < 2) continue;
            var current = new List<EntryInfo>();
            long bytes = 0;
            foreach (var e in files)
            {
                if (current.Count > 0 && bytes + e.SizeBytes > _spec.TargetFileBytes)
                {
                    if (current.Count > 1) groups.Add(new(partition.Key, current));
                    (current, bytes) = ([], 0);
                }
                current.Add(e);
                bytes += e.SizeBytes;
            }
            if (current.Count > 1) groups.Add(new(partition.Key, current));
        }
        return groups;
    }

    private static string PartitionText(object?[] values, IReadOnlyList<PartitionField> spec) =>
        spec.Count == 0 ? "(unpartitioned)" : string.Join('/', spec.Select((p, i) => p.Segment(values[i]).TrimEnd('/')));
}
