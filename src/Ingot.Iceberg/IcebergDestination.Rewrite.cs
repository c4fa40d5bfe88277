using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Avro.Generic;
using Ingot.DuckDb;
using Ingot.Iceberg.Table;
using Ingot.Records;
using Ingot.Storage;

namespace Ingot.Iceberg;

/// <summary>
/// What compaction and the replace of a unit share: the current snapshot's live data files, manifests rewritten without
/// some of them, and data files rewritten from others (merged, or without a unit's rows), with DuckDB, the statistics of
/// <see cref="DataFileWriter"/>, rows ordered by <c>_chunk_key</c>.
/// </summary>
internal sealed partial class IcebergDestination
{
    /// <summary>The current snapshot's manifest list and its data manifests, read (only when asked for).</summary>
    private sealed record CurrentFiles(IReadOnlyList<ManifestFile> List, IReadOnlyDictionary<string, Manifests.ManifestRead> Read)
    {
        public IEnumerable<EntryInfo> Live =>
            List.Where(m => Read.ContainsKey(m.Path)).SelectMany(m => Read[m.Path].Entries.Where(e => e.Status != Manifests.Deleted && e.Content == 0));
    }

    private async Task<CurrentFiles> CurrentFilesAsync(TableState table, TableMetadata metadata, bool readManifests, CancellationToken cancellationToken)
    {
        var empty = new Dictionary<string, Manifests.ManifestRead>(StringComparer.Ordinal);
        if (metadata.CurrentSnapshotId is not { } current) return new([], empty);
        var list = Manifests.ReadList(await ReadAsync(metadata.Snapshot(current)!["manifest-list"]!.GetValue<string>(), cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"iceberg table {table.Name}: the current snapshot's manifest list is missing"));
        if (!readManifests) return new(list, empty);
        foreach (var m in list.Where(m => m.Content == 0 && m.AddedFiles + m.ExistingFiles > 0))
            empty[m.Path] = Manifests.ReadManifest(await ReadAsync(m.Path, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidDataException($"iceberg table {table.Name}: manifest {m.Path} is missing"), m);
        return new(list, empty);
    }

    /// <summary>
    /// The manifests of the next snapshot: each one holding a file of <paramref name="removed"/> rewritten with that entry
    /// DELETED by <paramref name="snapshotId"/> (the others EXISTING, sequence numbers kept), the rest as they are; manifests
    /// holding only earlier deletions are left out.
    /// </summary>
    private async Task<(List<ManifestFile> Manifests, List<EntryInfo> Removed)> KeepAllButAsync(TableState table, CurrentFiles files, IReadOnlySet<string> removed,
        long snapshotId, long sequence, List<string> written, CancellationToken cancellationToken)
    {
        var manifests = new List<ManifestFile>();
        var gone = new List<EntryInfo>();
        foreach (var m in files.List)
        {
            if (m.AddedFiles + m.ExistingFiles == 0 && m.Content == 0) continue; // only deletions of an earlier snapshot
            if (removed.Count == 0 || !files.Read.TryGetValue(m.Path, out var read))
            {
                manifests.Add(m);
                continue;
            }
            var drop = read.Entries.Where(e => e.Status != Manifests.Deleted && removed.Contains(e.Path)).ToList();
            if (drop.Count == 0)
            {
                manifests.Add(m);
                continue;
            }
            var bytes = Manifests.Rewrite(read, m, removed, snapshotId);
            var path = await WriteMetadataFileAsync(table, $"{Guid.NewGuid():D}-m1.avro", bytes, cancellationToken).ConfigureAwait(false);
            written.Add(path);
            var live = read.Entries.Where(e => e.Status != Manifests.Deleted && !removed.Contains(e.Path)).ToList();
            manifests.Add(new ManifestFile(path, bytes.Length, m.SpecId, 0, sequence, live.Count == 0 ? sequence : live.Min(e => e.SequenceNumber), snapshotId,
                0, live.Count, drop.Count, 0, live.Sum(e => e.RecordCount), drop.Sum(e => e.RecordCount), m.Partitions));
            gone.AddRange(drop);
        }
        return (manifests, gone);
    }

    /// <summary>
    /// The files a commit replacing the units <paramref name="keys"/> takes out of the table, and what it adds instead. A
    /// file named after a unit's committed attempt (<c>&lt;key&gt;-&lt;attempt&gt;-&lt;n&gt;.parquet</c>) holds that unit's rows
    /// only: it goes whole when the unit is replaced. Any other live file (compacted: many units) whose <c>_chunk_key</c>
    /// bounds may hold a replaced key is read: when it holds rows of one, it is rewritten without them (copy-on-write in
    /// the same commit), or taken out when nothing else is left in it. Other units' rows are never dropped.
    /// </summary>
    private async Task<(HashSet<string> Removed, List<DataFile> Added)> ReplaceUnitsAsync(TableState table, IcebergSchema schema, IReadOnlyList<PartitionField> spec,
        CurrentFiles files, IReadOnlyDictionary<string, (JsonObject Entry, Guid? RunId, long SnapshotId)> held, IReadOnlyList<string> keys, List<string> written, CancellationToken cancellationToken)
    {
        var removed = new HashSet<string>(StringComparer.Ordinal);
        var added = new List<DataFile>();
        if (keys.Count == 0) return (removed, added);
        var replacing = keys.ToHashSet(StringComparer.Ordinal);
        var chunkKeyId = schema.Field(MetadataColumns.ChunkKey)?.Id;
        foreach (var e in files.Live)
        {
            if (UnitOf(e.Path, held) is { } owner)
            {
                if (replacing.Contains(owner)) removed.Add(e.Path);
                continue;
            }
            if (chunkKeyId is { } id && !keys.Any(k => MayHold(e, id, k))) continue;
            var (file, dropped) = await RewriteAsync(table, schema, [e], PartitionOf(e, spec), keys, written, cancellationToken).ConfigureAwait(false);
            if (dropped == 0) continue;
            removed.Add(e.Path);
            if (file is not null) added.Add(file);
        }
        return (removed, added);
    }

    /// <summary>The unit whose committed attempt a data file is named after, or null (a compacted file, another writer's).</summary>
    private static string? UnitOf(string path, IReadOnlyDictionary<string, (JsonObject Entry, Guid? RunId, long SnapshotId)> held)
    {
        var name = FileName(path);
        if (AttemptOf(path) is not { } attempt) return null;
        var end = name.Length - ".parquet".Length;
        var last = name.LastIndexOf('-', end - 1);
        var key = name[..(last - attempt.Length - 1)];
        return held.TryGetValue(key, out var h) && h.Entry["attempt"]?.GetValue<string>() == attempt ? key : null;
    }

    /// <summary>Whether the file's <c>_chunk_key</c> bounds (UTF-8 bytes, possibly truncated) admit <paramref name="key"/>; no bounds admit anything.</summary>
    private static bool MayHold(EntryInfo e, int fieldId, string key)
    {
        if (Bound(e, "lower_bounds", fieldId) is not { } lower || Bound(e, "upper_bounds", fieldId) is not { } upper) return true;
        var k = Encoding.UTF8.GetBytes(key);
        return lower.AsSpan().SequenceCompareTo(k) <= 0 && k.AsSpan().SequenceCompareTo(upper) <= 0;
    }

    private static byte[]? Bound(EntryInfo e, string field, int fieldId) =>
        ((GenericRecord)e.Record["data_file"]).TryGetValue(field, out var v) && v is object[] pairs
            ? pairs.OfType<GenericRecord>().FirstOrDefault(p => (int)p["key"] == fieldId)?["value"] as byte[]
            : null;

    /// <summary>An entry's partition values, as <see cref="DataFile.Partition"/> holds them.</summary>
    private static object?[] PartitionOf(EntryInfo e, IReadOnlyList<PartitionField> spec)
    {
        var partition = ((GenericRecord)e.Record["data_file"])["partition"] as GenericRecord;
        return spec.Select(p => partition is not null && partition.TryGetValue(p.Name, out var v) ? p.FromAvro(v) : null).ToArray();
    }

    /// <summary>
    /// Writes the rows of <paramref name="inputs"/> (live data files of one partition) but those whose <c>_chunk_key</c> is in
    /// <paramref name="drop"/> as one new data file in the first input's folder: ordered by <c>_chunk_key</c>, then input and
    /// row (so its <c>_chunk_key</c> bounds are tight), the table's field ids and the Iceberg schema in its footer, its
    /// statistics read back as for a staged file. With keys to drop and none present nothing is written (dropped 0); with
    /// nothing left the file is null. The written file's URI goes to <paramref name="written"/>.
    /// </summary>
    private async Task<(DataFile? File, long Dropped)> RewriteAsync(TableState table, IcebergSchema schema, IReadOnlyList<EntryInfo> inputs, IReadOnlyList<object?> partition,
        IReadOnlyCollection<string> drop, List<string> written, CancellationToken cancellationToken)
    {
        var first = Locations.Relative(_store, inputs[0].Path) ?? throw new InvalidDataException($"{inputs[0].Path} is outside the warehouse {_store.Root}");
        var folder = first[..(first.LastIndexOf('/') + 1)];
        var scratch = _store.LocalScratchFor($"{table.RelativeRoot}/data/_tmp/{Guid.NewGuid():N}/x.parquet");
        Directory.CreateDirectory(scratch);
        try
        {
            var locals = new List<string>(inputs.Count);
            foreach (var e in inputs) locals.Add(await LocalCopyAsync(e.Path, scratch, cancellationToken).ConfigureAwait(false));
            var chunkKey = DuckDbSession.Identifier(MetadataColumns.ChunkKey);
            var parts = locals.Select((l, i) =>
                $"SELECT * EXCLUDE (file_row_number), {i.ToString(CultureInfo.InvariantCulture)} AS \"__ingot_input\", file_row_number AS \"__ingot_row\" FROM read_parquet({DuckDbSession.Literal(l)}, file_row_number = true, hive_partitioning = false)");
            var union = $"SELECT * EXCLUDE (\"__ingot_input\", \"__ingot_row\") FROM ({string.Join(" UNION ALL BY NAME ", parts)})";
            using var connection = _database.Connect();
            var names = new List<string>();
            foreach (var row in connection.Query($"DESCRIBE {union}")) names.Add((string)row[0]!);
            var total = inputs.Sum(e => e.RecordCount);
            // Another writer's file without Ingot's _chunk_key holds no unit's rows: nothing of it is dropped.
            var keyed = names.Contains(MetadataColumns.ChunkKey, StringComparer.Ordinal);
            if (drop.Count > 0 && !keyed) return (null, 0);
            var where = drop.Count == 0 ? "" : $" WHERE {chunkKey} IS NULL OR {chunkKey} NOT IN ({string.Join(", ", drop.Select(DuckDbSession.Literal))})";
            var rows = $"{union}{where} ORDER BY {(keyed ? chunkKey + ", " : "")}\"__ingot_input\", \"__ingot_row\"";
            var kept = total;
            if (drop.Count > 0) kept = Convert.ToInt64(connection.Scalar($"SELECT count(*) FROM ({rows})"), CultureInfo.InvariantCulture);
            if (drop.Count > 0 && kept == total) return (null, 0);
            if (kept == 0) return (null, total);
            var fields = names.Select(n => schema.Field(n)
                ?? throw new InvalidDataException($"iceberg table {table.Name}: {inputs[0].Path} has a column '{n}' the table's schema does not have")).ToList();
            var output = Path.Combine(scratch, "out.parquet_tmp");
            await Task.Run(() => connection.Execute($"COPY ({rows}) TO {DuckDbSession.Literal(output)} ({DataFileWriter.CopyOptions(new IcebergSchema(schema.SchemaId, fields))})"), cancellationToken).ConfigureAwait(false);
            var relative = $"{folder}compacted-{Guid.NewGuid():N}.parquet";
            var file = DataFileWriter.Describe(connection, output, Locations.Uri(_store, relative), new FileInfo(output).Length, partition, schema);
            if (file.RecordCount != kept) throw new InvalidDataException($"iceberg table {table.Name}: the rewrite of {inputs[0].Path} holds {file.RecordCount} records, expected {kept}");
            await _store.PutFileAsync(relative, output, cancellationToken).ConfigureAwait(false);
            written.Add(file.Path);
            return (file, total - kept);
        }
        finally
        {
            try { Directory.Delete(scratch, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>A local path DuckDB can read the data file at: the file itself on a local warehouse, else a copy in <paramref name="scratch"/>.</summary>
    private async Task<string> LocalCopyAsync(string uri, string scratch, CancellationToken cancellationToken)
    {
        var relative = Locations.Relative(_store, uri) ?? throw new InvalidDataException($"{uri} is outside the warehouse {_store.Root}");
        if (_store is LocalBlobStore local)
        {
            var path = local.FullPath(relative);
            return File.Exists(path) ? path : throw new InvalidDataException($"live data file {uri} is missing");
        }
        var stream = await _store.OpenReadAsync(relative, cancellationToken).ConfigureAwait(false) ?? throw new InvalidDataException($"live data file {uri} is missing");
        var copy = Path.Combine(scratch, $"in-{Guid.NewGuid():N}.parquet");
        await using (stream.ConfigureAwait(false))
        {
            var fs = File.Create(copy);
            await using (fs.ConfigureAwait(false)) await stream.CopyToAsync(fs, cancellationToken).ConfigureAwait(false);
        }
        return copy;
    }
}
