using System.Globalization;
using System.Text.Json.Nodes;
using Ingot.Config;
using Ingot.DuckDb;
using Ingot.Iceberg.Aggregates;
using Ingot.Iceberg.Table;
using Ingot.Storage;

namespace Ingot.Iceberg;

/// <summary>What one <c>ingot aggregate</c> of one aggregate did.</summary>
/// <param name="Mode"><c>incremental</c>, <c>full</c>, <c>up-to-date</c> (nothing new since the watermark) or <c>empty</c> (no bronze snapshot yet).</param>
/// <param name="Reason">Why a full recompute ran (or null).</param>
internal sealed record AggregateOutcome(string Aggregate, string Table, string Mode, string? Reason, int AddedFiles, int RemovedFiles, long Groups, long? SourceSnapshot, long? ResultSnapshot);

internal sealed partial class IcebergDestination
{
    /// <summary>Result snapshot summary keys: the bronze snapshot the result was computed at (the watermark), and the definition it was computed under.</summary>
    public const string AggregateSourceKey = "ingot.aggregate.source-snapshot-id", AggregateDefinitionKey = "ingot.aggregate.definition",
        AggregateTableKey = "ingot.aggregate.source-table", AggregateModeKey = "ingot.aggregate.mode";

    /// <summary>
    /// Brings <paramref name="aggregate"/>'s result table up to the bronze table's current snapshot: the measures of the
    /// data files live now but not at the watermark are added, those live at the watermark but not now (a refresh's
    /// overwrite) taken out, and the merged result is written as one <c>overwrite</c> snapshot whose summary carries the new
    /// watermark, by the catalog's compare-and-swap. A lost race computes again from the winner's result. In full (the
    /// whole current table) with <paramref name="full"/>, or when the result table, its watermark or its definition is
    /// missing or changed. The bronze table is only read, at one fixed snapshot: a concurrent ingest is safe.
    /// </summary>
    public async Task<AggregateOutcome> AggregateAsync(AggregateSpec aggregate, bool full, CancellationToken cancellationToken)
    {
        var bronze = TableFor(aggregate.Stream);
        var result = ResultTableFor(aggregate);
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var outcome = await AggregateOnceAsync(aggregate, full, bronze, result, attempt, cancellationToken).ConfigureAwait(false);
            if (outcome is not null) return outcome;
            Interlocked.Increment(ref _commitRetries);
            if (attempt == CommitAttempts)
                throw new IOException($"aggregate {aggregate.Name}: {CommitAttempts} commits of {_spec.Namespace}.{result.Name} lost to concurrent writers; run it again");
            var delay = TimeSpan.FromMilliseconds(Math.Min(1280, 20 << Math.Min(attempt, 6)) * (0.5 + Random.Shared.NextDouble()));
            await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The result table of <paramref name="aggregate"/> (<c>{pipeline}_{name}</c> or <c>table:</c>) in this destination's namespace; also for maintenance.</summary>
    internal TableState ResultTableFor(AggregateSpec aggregate)
    {
        var name = aggregate.TableFor(_pipeline.Name);
        if (_pipeline.Streams.Any(s => TableFor(s).Name == name))
            throw new ConfigException($"{aggregate.Location}: aggregates.{aggregate.Name}.table: '{name}' is a bronze table of this pipeline");
        var root = $"{_spec.Namespace}/{name}";
        return new TableState("", name, root, Locations.Uri(_store, root));
    }

    /// <summary>One compute-and-commit; null when another writer moved the result table first (the caller tries again).</summary>
    private async Task<AggregateOutcome?> AggregateOnceAsync(AggregateSpec aggregate, bool full, TableState bronze, TableState result, int attempt, CancellationToken cancellationToken)
    {
        var tableName = $"{_spec.Namespace}.{result.Name}";
        var (_, source) = await LoadAsync(bronze, cancellationToken).ConfigureAwait(false);
        if (source?.CurrentSnapshotId is not { } now)
            return new AggregateOutcome(aggregate.Name, tableName, "empty", null, 0, 0, 0, null, null);
        RefuseDeletes(source, now, $"{_spec.Namespace}.{bronze.Name}");
        var columns = AggregateSql.Columns(aggregate, source.CurrentSchema, $"{_spec.Namespace}.{bronze.Name}");

        var (location, current) = await LoadAsync(result, cancellationToken).ConfigureAwait(false);
        var summary = current?.CurrentSnapshotId is { } rs ? current.Snapshot(rs)?["summary"] as JsonObject : null;
        long? watermark = long.TryParse(summary?[AggregateSourceKey]?.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var w) ? w : null;
        var reason = full ? "--full"
            : current is null ? $"the result table {tableName} does not exist yet"
            : watermark is null ? $"the result table {tableName} has no watermark"
            : summary?[AggregateDefinitionKey]?.GetValue<string>() != aggregate.Fingerprint ? "the aggregate's definition changed"
            : source.Snapshot(watermark.Value) is null ? $"the watermark snapshot {watermark} of the bronze table has expired"
            : null;
        if (reason is null && watermark == now)
            return new AggregateOutcome(aggregate.Name, tableName, "up-to-date", null, 0, 0, -1, now, current!.CurrentSnapshotId);

        List<string> added, removed, previous;
        if (reason is null)
        {
            (added, removed) = await DeltaAsync(source, watermark!.Value, now, cancellationToken).ConfigureAwait(false);
            RefuseDeletes(current!, current!.CurrentSnapshotId!.Value, tableName);
            previous = [.. await LiveFilesAsync(current, current.CurrentSnapshotId.Value, cancellationToken).ConfigureAwait(false)];
        }
        else
        {
            added = (await LiveFilesAsync(source, now, cancellationToken).ConfigureAwait(false)).Order(StringComparer.Ordinal).ToList();
            removed = [];
            previous = [];
        }

        var scratch = Path.Combine(Path.GetTempPath(), $"ingot-aggregate-{Guid.NewGuid():N}");
        Directory.CreateDirectory(scratch);
        var written = new List<string>();
        var committed = false;
        try
        {
            var local = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var uri in added.Concat(removed).Concat(previous)) local[uri] = await LocalCopyAsync(uri, scratch, cancellationToken).ConfigureAwait(false);
            var schema = ResultSchema(current, columns);
            var output = Path.Combine(scratch, "result.parquet");
            long groups;
            using (var session = DuckDbSession.Open())
            {
                var merge = AggregateSql.Merge(aggregate, columns, previous.Select(u => local[u]).ToList(), added.Select(u => local[u]).ToList(), removed.Select(u => local[u]).ToList());
                try
                {
                    session.Execute($"CREATE TEMP TABLE result AS {merge}");
                }
                // DuckDB's own error (a measure over a column the files lack, a type it cannot sum), named with the aggregate.
                catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
                {
                    throw new InvalidDataException($"aggregate {aggregate.Name} ({aggregate.Location}) failed over {_spec.Namespace}.{bronze.Name}: {e.Message}");
                }
                var negative = Convert.ToInt64(session.Scalar($"SELECT count(*) FROM result WHERE {DuckDbSession.Identifier(AggregateSql.RowsColumn)} < 0"), CultureInfo.InvariantCulture);
                if (negative > 0)
                    throw new InvalidDataException($"aggregate {aggregate.Name}: {negative} group(s) would hold fewer than no rows (the result table {tableName} does not match its watermark); run ingot aggregate --full");
                groups = Convert.ToInt64(session.Scalar("SELECT count(*) FROM result"), CultureInfo.InvariantCulture);
                if (groups > 0) session.Execute($"COPY result TO {DuckDbSession.Literal(output)} ({DataFileWriter.CopyOptions(schema)})");
            }

            var snapshotId = NewSnapshotId();
            DataFile? file = null;
            if (groups > 0)
            {
                var relative = $"{result.RelativeRoot}/data/{snapshotId.ToString(CultureInfo.InvariantCulture)}-{attempt}-{Guid.NewGuid():N}.parquet";
                // Described before it is put: a local store moves the file into place.
                using (var describe = _database.Connect())
                    file = DataFileWriter.Describe(describe, output, Locations.Uri(_store, relative), new FileInfo(output).Length, [], schema);
                written.Add(file.Path);
                await _store.PutFileAsync(relative, output, cancellationToken).ConfigureAwait(false);
            }
            var next = await BuildResultAsync(aggregate, result, current, location, schema, file, snapshotId, now, reason is null ? "incremental" : "full", written, cancellationToken).ConfigureAwait(false);
            var version = current is null ? 0 : current.VersionOf(location!) + 1;
            var metadataFile = await WriteMetadataFileAsync(result, $"{version:D5}-{Guid.NewGuid():D}.metadata.json", next.ToUtf8(), cancellationToken).ConfigureAwait(false);
            written.Add(metadataFile);
            committed = location is null
                ? await _catalog.CreateAsync(_spec.CatalogName, _spec.Namespace, result.Name, metadataFile, cancellationToken).ConfigureAwait(false)
                : await _catalog.SwapAsync(_spec.CatalogName, _spec.Namespace, result.Name, location, metadataFile, cancellationToken).ConfigureAwait(false);
            if (!committed) return null;
            return new AggregateOutcome(aggregate.Name, tableName, reason is null ? "incremental" : "full", reason, added.Count, removed.Count, groups, now, snapshotId);
        }
        finally
        {
            // Lost the race or failed before the swap: nothing references what this attempt wrote.
            if (!committed && !cancellationToken.IsCancellationRequested)
                foreach (var uri in written) await DeleteUriAsync(uri).ConfigureAwait(false);
            try { Directory.Delete(scratch, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Ingot writes no delete files; a table another writer added some to is not summed as if it had none.</summary>
    private static void RefuseDeletes(TableMetadata metadata, long snapshot, string table)
    {
        var deletes = (metadata.Snapshot(snapshot)?["summary"] as JsonObject)?["total-delete-files"]?.GetValue<string>();
        if (deletes is not null and not "0")
            throw new InvalidDataException($"table {table} has {deletes} delete file(s) (written by another engine); aggregates read data files only and would count deleted rows");
    }

    /// <summary>The data files live in one snapshot.</summary>
    private async Task<HashSet<string>> LiveFilesAsync(TableMetadata metadata, long snapshot, CancellationToken cancellationToken)
    {
        var (files, _, _) = await ReachableAsync(metadata, new HashSet<long> { snapshot }, liveOnly: true, cancellationToken).ConfigureAwait(false);
        return files;
    }

    /// <summary>
    /// The data files live at <paramref name="now"/> but not at <paramref name="then"/>, and the other way round. Manifests
    /// are immutable, so one both snapshots list holds the same live files in both: only the manifests of one side are
    /// read (a file is live in one manifest of a snapshot at most), which keeps the delta's cost with the delta, not the table.
    /// </summary>
    private async Task<(List<string> Added, List<string> Removed)> DeltaAsync(TableMetadata metadata, long then, long now, CancellationToken cancellationToken)
    {
        async Task<IReadOnlyList<ManifestFile>> ListOf(long snapshot) =>
            Manifests.ReadList(await ReadAsync(metadata.Snapshot(snapshot)!["manifest-list"]!.GetValue<string>(), cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"the manifest list of snapshot {snapshot} is missing"));
        var (before, after) = (await ListOf(then).ConfigureAwait(false), await ListOf(now).ConfigureAwait(false));
        var shared = before.Select(m => m.Path).Intersect(after.Select(m => m.Path), StringComparer.Ordinal).ToHashSet(StringComparer.Ordinal);
        async Task<HashSet<string>> LiveIn(IEnumerable<ManifestFile> manifests)
        {
            var files = new HashSet<string>(StringComparer.Ordinal);
            foreach (var m in manifests.Where(m => m.Content == 0 && !shared.Contains(m.Path)))
            {
                var bytes = await ReadAsync(m.Path, cancellationToken).ConfigureAwait(false) ?? throw new InvalidDataException($"manifest {m.Path} is missing");
                foreach (var e in Manifests.ReadManifest(bytes, m).Entries.Where(e => e.Status != Manifests.Deleted)) files.Add(e.Path);
            }
            return files;
        }
        var (old, current) = (await LiveIn(before).ConfigureAwait(false), await LiveIn(after).ConfigureAwait(false));
        return (current.Where(f => !old.Contains(f)).Order(StringComparer.Ordinal).ToList(), old.Where(f => !current.Contains(f)).Order(StringComparer.Ordinal).ToList());
    }

    /// <summary>The result table's schema: a column keeps its field id while its name and type stay; a new or retyped column gets a new id.</summary>
    private static IcebergSchema ResultSchema(TableMetadata? current, IReadOnlyList<(string Name, string Type)> columns)
    {
        var existing = current?.CurrentSchema;
        var next = current?.LastColumnId ?? 0;
        var fields = new List<IcebergField>();
        foreach (var (name, type) in columns)
        {
            var same = existing?.Field(name) is { } f && f.Type == type ? f : null;
            fields.Add(same ?? new IcebergField(++next, name, type));
        }
        return new IcebergSchema(existing?.SchemaId ?? 0, fields);
    }

    /// <summary>
    /// The result table's next metadata: the new data file in one manifest, every file of the previous result DELETED by
    /// this snapshot (an <c>overwrite</c>), the watermark and definition in the summary.
    /// </summary>
    private async Task<TableMetadata> BuildResultAsync(AggregateSpec aggregate, TableState result, TableMetadata? current, string? location, IcebergSchema schema, DataFile? file,
        long snapshotId, long watermark, string mode, List<string> written, CancellationToken cancellationToken)
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var sequence = (current?.LastSequenceNumber ?? 0) + 1;
        var lastColumnId = Math.Max(current?.LastColumnId ?? 0, schema.MaxId);
        var manifests = new List<ManifestFile>();
        if (file is not null)
        {
            var bytes = Manifests.WriteAdded(schema, 0, [], [file]);
            var path = await WriteMetadataFileAsync(result, $"{Guid.NewGuid():D}-m0.avro", bytes, cancellationToken).ConfigureAwait(false);
            written.Add(path);
            manifests.Add(new ManifestFile(path, bytes.Length, 0, 0, sequence, sequence, snapshotId, 1, 0, 0, file.RecordCount, 0, 0, []));
        }
        long deletedFiles = 0, deletedRecords = 0, removedBytes = 0;
        var parent = current?.CurrentSnapshotId;
        if (current is not null && parent is { } p)
        {
            var list = Manifests.ReadList(await ReadAsync(current.Snapshot(p)!["manifest-list"]!.GetValue<string>(), cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"result table {result.Name}: the current snapshot's manifest list is missing"));
            foreach (var m in list.Where(m => m.Content == 0 && m.AddedFiles + m.ExistingFiles > 0))
            {
                var read = Manifests.ReadManifest(await ReadAsync(m.Path, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidDataException($"result table {result.Name}: manifest {m.Path} is missing"), m);
                var gone = read.Entries.Where(e => e.Status != Manifests.Deleted).ToList();
                var bytes = Manifests.Rewrite(read, m, gone.Select(e => e.Path).ToHashSet(StringComparer.Ordinal), snapshotId);
                var path = await WriteMetadataFileAsync(result, $"{Guid.NewGuid():D}-m1.avro", bytes, cancellationToken).ConfigureAwait(false);
                written.Add(path);
                manifests.Add(new ManifestFile(path, bytes.Length, m.SpecId, 0, sequence, sequence, snapshotId, 0, 0, gone.Count, 0, 0, gone.Sum(e => e.RecordCount), m.Partitions));
                deletedFiles += gone.Count;
                deletedRecords += gone.Sum(e => e.RecordCount);
                removedBytes += gone.Sum(e => e.SizeBytes);
            }
        }
        var listBytes = Manifests.WriteList(manifests, snapshotId, parent, sequence);
        var listPath = await WriteMetadataFileAsync(result, $"snap-{snapshotId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid():D}.avro", listBytes, cancellationToken).ConfigureAwait(false);
        written.Add(listPath);
        var summary = new JsonObject
        {
            ["operation"] = deletedFiles > 0 ? "overwrite" : "append",
            ["added-data-files"] = S(file is null ? 0 : 1),
            ["added-records"] = S(file?.RecordCount ?? 0),
            ["added-files-size"] = S(file?.SizeBytes ?? 0),
            ["total-data-files"] = S(file is null ? 0 : 1),
            ["total-records"] = S(file?.RecordCount ?? 0),
            ["total-files-size"] = S(file?.SizeBytes ?? 0),
            ["total-delete-files"] = "0",
            ["total-position-deletes"] = "0",
            ["total-equality-deletes"] = "0",
            ["engine-name"] = "ingot",
            [AggregateSourceKey] = S(watermark),
            [AggregateTableKey] = $"{_spec.Namespace}.{TableFor(aggregate.Stream).Name}",
            [AggregateDefinitionKey] = aggregate.Fingerprint,
            [AggregateModeKey] = mode,
        };
        if (deletedFiles > 0)
        {
            summary["deleted-data-files"] = S(deletedFiles);
            summary["deleted-records"] = S(deletedRecords);
            summary["removed-files-size"] = S(removedBytes);
        }
        var snapshot = new JsonObject
        {
            ["snapshot-id"] = snapshotId,
            ["sequence-number"] = sequence,
            ["timestamp-ms"] = nowMs,
            ["manifest-list"] = listPath,
            ["summary"] = summary,
        };
        if (parent is { } pid) snapshot["parent-snapshot-id"] = pid;
        return current is null
            ? TableMetadata.Create(result.Location, schema with { SchemaId = 0 }, lastColumnId, [], nowMs).Commit(null, snapshot, schema with { SchemaId = 0 }, lastColumnId, nowMs)
            : current.Commit(location, snapshot, schema, lastColumnId, nowMs);
    }
}
