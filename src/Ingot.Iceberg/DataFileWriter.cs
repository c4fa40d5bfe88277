using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Ingot.Destinations;
using Ingot.DuckDb;
using Ingot.DuckDb.Native;
using Ingot.DuckDb.Parquet;
using Ingot.Iceberg.Table;
using Ingot.Records;
using Ingot.Sources;
using Ingot.Storage;

namespace Ingot.Iceberg;

/// <summary>A data file staged for a unit: visible under its final name, not yet referenced by any snapshot.</summary>
internal sealed record StagedFile(string RelativePath, string Sha256, DataFile File);

/// <summary>
/// Writes a part of a unit as Iceberg data files: the records staged into DuckDB the way the Parquet destination stages
/// them (<see cref="BronzeStaging"/>), one file per partition value (rolled at the target size), each written by one
/// <c>COPY … (FIELD_IDS …)</c> with the Iceberg schema in its footer, then its statistics read back from the footer
/// (<c>parquet_metadata</c>) into what the manifest needs: record count, size, column sizes, value and null counts, bounds.
/// </summary>
internal sealed class DataFileWriter(DuckDbDatabase database, IBlobStore store, string destination, IReadOnlyList<PartitionTransform> transforms, long targetFileBytes)
{
    private sealed record PlannedFile(string RelativePath, object?[] Partition, List<int> Rows);

    public async Task<List<StagedFile>> WriteAsync(RunContext run, WorkUnit unit, Record[] records, TableState table, string attempt, Dictionary<string, int> next,
        IFileJournal journal, CancellationToken cancellationToken)
    {
        if (records.Length == 0) return [];
        using var rows = await Task.Run(() => RowTable.Read(unit.Key, records, cancellationToken), cancellationToken).ConfigureAwait(false);
        ParquetDestination.CheckColumnNames(unit, rows.Names);
        ColumnType[] types;
        IcebergSchema schema;
        IReadOnlyList<PartitionField> spec;
        await table.Lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            (types, schema, var last) = table.Schema.Reconcile(unit.Stream, unit.Key, rows.Names, rows.Types, table.LastColumnId);
            spec = table.Spec ?? Resolve(schema, unit);
            CheckSpec(spec, unit);
            (table.Schema, table.LastColumnId, table.Spec) = (schema, last, spec);
        }
        finally
        {
            table.Lock.Release();
        }

        var files = Plan(run, unit, records, rows, types, schema, spec, table, attempt, next);
        using var staged = await Task.Run(() => BronzeStaging.Stage(database, run, unit, records, rows, types, files.Select(f => f.Rows).ToList(), cancellationToken), cancellationToken).ConfigureAwait(false);
        var written = new List<IcebergField>(rows.Names.Count + IcebergSchema.MetadataColumns.Count);
        foreach (var n in rows.Names) written.Add(schema.Field(n)!);
        foreach (var (n, _) in IcebergSchema.MetadataColumns) written.Add(schema.Field(n)!);
        var options = CopyOptions(new IcebergSchema(schema.SchemaId, written));

        var scratchRoot = store.LocalScratchFor($"{table.RelativeRoot}/data/_tmp/{Guid.NewGuid():N}/x.parquet");
        var result = new List<StagedFile>(files.Count);
        try
        {
            await journal.WillWriteAsync(destination, files.Select(f => f.RelativePath).ToList(), cancellationToken).ConfigureAwait(false);
            var single = files.Count == 1;
            if (single) Directory.CreateDirectory(Path.Combine(scratchRoot, $"{BronzeStaging.FileColumn}=0"));
            var copy = single
                ? $"COPY ({staged.SelectFields()}) TO {DuckDbSession.Literal(Path.Combine(scratchRoot, $"{BronzeStaging.FileColumn}=0", "data.parquet_tmp"))} ({options})"
                : $"COPY ({staged.SelectAll()}) TO {DuckDbSession.Literal(scratchRoot)} ({options}, PARTITION_BY ({BronzeStaging.FileColumn}), OVERWRITE_OR_IGNORE true, FILE_EXTENSION 'parquet_tmp')";
            await Task.Run(() => staged.Connection.Execute(copy), cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < files.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var found = Directory.GetFiles(Path.Combine(scratchRoot, $"{BronzeStaging.FileColumn}={i.ToString(CultureInfo.InvariantCulture)}"), "*.parquet_tmp");
                if (found.Length != 1) throw new InvalidDataException($"chunk '{unit.Key}': DuckDB wrote {found.Length} files for {files[i].RelativePath}, expected one");
                var scratch = found[0];
                var stats = Statistics(staged.Connection, scratch, schema);
                var (sha256, bytes) = await PartBuffer.HashFileAsync(scratch, cancellationToken).ConfigureAwait(false);
                if (stats.Records != files[i].Rows.Count)
                    throw new InvalidDataException($"chunk '{unit.Key}': {files[i].RelativePath} holds {stats.Records} records, expected {files[i].Rows.Count}");
                await store.PutFileAsync(files[i].RelativePath, scratch, cancellationToken).ConfigureAwait(false);
                var file = new DataFile(Locations.Uri(store, files[i].RelativePath), stats.Records, bytes, files[i].Partition,
                    stats.ColumnSizes, stats.ValueCounts, stats.NullCounts, stats.Lower, stats.Upper, stats.SplitOffsets);
                result.Add(new StagedFile(files[i].RelativePath, sha256, file));
            }
        }
        finally
        {
            try { Directory.Delete(scratchRoot, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return result;
    }

    /// <summary>zstd level 1 (as the Parquet destination), every column's field id, and the file's Iceberg schema in the footer (Java's <c>iceberg.schema</c>).</summary>
    internal static string CopyOptions(IcebergSchema fileSchema)
    {
        var ids = new StringBuilder();
        foreach (var f in fileSchema.Fields)
        {
            if (ids.Length > 0) ids.Append(", ");
            ids.Append(DuckDbSession.Literal(f.Name)).Append(": ");
            if (f.IsList) ids.Append(CultureInfo.InvariantCulture, $"{{__duckdb_field_id: {f.Id}, element: {f.ElementId}}}");
            else ids.Append(f.Id.ToString(CultureInfo.InvariantCulture));
        }
        return $"FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, FIELD_IDS {{{ids}}}, KV_METADATA {{'iceberg.schema': {DuckDbSession.Literal(fileSchema.ToJson().ToJsonString())}}}";
    }

    // ---- partitions ------------------------------------------------------------------------------------------

    /// <summary>The configured transforms against the schema: each source column's field id and type.</summary>
    private IReadOnlyList<PartitionField> Resolve(IcebergSchema schema, WorkUnit unit)
    {
        var fields = new List<PartitionField>();
        foreach (var t in transforms)
        {
            var source = schema.Field(t.Source)
                ?? throw new InvalidDataException($"partition_by {t}: stream '{unit.Stream}' has no field '{t.Source}' (chunk '{unit.Key}' is the first to land)");
            fields.Add(new PartitionField(source.Id, 1000 + fields.Count, t.Name, t.Transform, source.Type));
        }
        return fields;
    }

    /// <summary>The table's spec must be the configured one (Ingot does not evolve partition specs), over primitive columns.</summary>
    private void CheckSpec(IReadOnlyList<PartitionField> spec, WorkUnit unit)
    {
        var configured = string.Join(", ", transforms.Select(t => t.ToString()));
        var actual = string.Join(", ", spec.Select(p => $"{p.Transform}({p.Name[..(p.Transform == "identity" ? p.Name.Length : p.Name.Length - p.Transform.Length - 1)]})"));
        if (configured != actual)
            throw new InvalidDataException($"the Iceberg table of stream '{unit.Stream}' is partitioned by [{actual}], but partition_by says [{configured}]; Ingot does not change a table's partitioning (chunk '{unit.Key}')");
        foreach (var p in spec)
        {
            if (p.SourceType is "list" or "unknown")
                throw new InvalidDataException($"partition_by {p.Transform}: the source column of '{p.Name}' is a {p.SourceType}, not a primitive column (chunk '{unit.Key}')");
        }
    }

    private List<PlannedFile> Plan(RunContext run, WorkUnit unit, Record[] records, RowTable rows, ColumnType[] types, IcebergSchema schema,
        IReadOnlyList<PartitionField> spec, TableState table, string attempt, Dictionary<string, int> next)
    {
        var getters = spec.Select(p => Getter(run, unit, records, rows, types, schema.Fields.First(f => f.Id == p.SourceId).Name)).ToArray();
        var groups = new Dictionary<string, (object?[] Values, List<int> Rows)>(StringComparer.Ordinal);
        var order = new List<string>();
        var key = new StringBuilder();
        if (spec.Count == 0)
        {
            // Unpartitioned: one group, no key to build per record.
            groups[""] = ([], [.. Enumerable.Range(0, records.Length)]);
            order.Add("");
        }
        for (var r = 0; spec.Count > 0 && r < records.Length; r++)
        {
            var values = new object?[spec.Count];
            key.Clear();
            for (var i = 0; i < spec.Count; i++)
            {
                values[i] = spec[i].Apply(getters[i](r));
                key.Append(values[i]?.GetType().Name).Append(':').Append(values[i] is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : values[i]?.ToString()).Append('\u0001');
            }
            var k = key.ToString();
            if (!groups.TryGetValue(k, out var group))
            {
                groups[k] = group = (values, []);
                order.Add(k);
            }
            group.Rows.Add(r);
        }
        var files = new List<PlannedFile>();
        foreach (var k in order)
        {
            var (values, members) = groups[k];
            var folder = string.Concat(spec.Select((p, i) => p.Segment(values[i]) + "/"));
            var current = new List<int>();
            long bytes = 0;
            foreach (var r in members)
            {
                var size = 120 + rows.Json(r).Length;
                if (current.Count > 0 && bytes + size > targetFileBytes)
                {
                    files.Add(new PlannedFile(FilePath(table, folder, unit, attempt, next), values, current));
                    current = [];
                    bytes = 0;
                }
                bytes += size;
                current.Add(r);
            }
            files.Add(new PlannedFile(FilePath(table, folder, unit, attempt, next), values, current));
        }
        return files;
    }

    /// <summary><c>&lt;ns&gt;/&lt;table&gt;/data/&lt;partition&gt;/&lt;chunk-key&gt;-&lt;attempt&gt;-&lt;n&gt;.parquet</c>: the attempt tells a repeated unit's files apart.</summary>
    private static string FilePath(TableState table, string folder, WorkUnit unit, string attempt, Dictionary<string, int> next)
    {
        var n = next.GetValueOrDefault(folder);
        next[folder] = n + 1;
        return $"{table.RelativeRoot}/data/{folder}{unit.Key}-{attempt}-{n.ToString(CultureInfo.InvariantCulture)}.parquet";
    }

    private static Func<int, object?> Getter(RunContext run, WorkUnit unit, Record[] records, RowTable rows, ColumnType[] types, string source)
    {
        static long Micros(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        switch (source)
        {
            case MetadataColumns.EventTs: return r => records[r].EventTs is { } ts ? Micros(ts) : null;
            case MetadataColumns.IngestedAt: return _ => Micros(run.IngestedAt);
            case MetadataColumns.IngestionId: return _ => run.RunId.ToString();
            case MetadataColumns.SourceSystem: return _ => unit.SourceSystem;
            case MetadataColumns.Stream: return _ => unit.Stream;
            case MetadataColumns.ChunkKey: return _ => unit.Key;
            case MetadataColumns.RecordHash: return r => Encoding.ASCII.GetString(rows.Hashes, r * RowTable.HashLength, RowTable.HashLength);
        }
        var c = rows.Names.IndexOf(source);
        if (c < 0) return _ => null;
        var type = types[c];
        return r =>
        {
            var cell = rows.CellAt(r, c);
            if (cell.Kind is CellKind.Missing or CellKind.Null) return null;
            return type switch
            {
                ColumnType.BigInt => RowTable.ParseInt64(rows.Bytes(r, cell)),
                ColumnType.Double => RowTable.ParseDouble(rows.Bytes(r, cell)),
                ColumnType.Boolean => cell.Kind == CellKind.True,
                _ => rows.Text(r, cell),
            };
        };
    }

    // ---- statistics ----------------------------------------------------------------------------------------

    /// <summary>An unpartitioned data file written elsewhere (an aggregate's result) as its manifest entry: the same statistics as staged files.</summary>
    internal DataFile Describe(string localFile, string uri, IcebergSchema schema)
    {
        using var connection = database.Connect();
        var stats = Statistics(connection, localFile, schema);
        return new DataFile(uri, stats.Records, new FileInfo(localFile).Length, [], stats.ColumnSizes, stats.ValueCounts, stats.NullCounts, stats.Lower, stats.Upper, stats.SplitOffsets);
    }

    private sealed record FileStats(long Records, Dictionary<int, long> ColumnSizes, Dictionary<int, long> ValueCounts, Dictionary<int, long> NullCounts,
        Dictionary<int, byte[]> Lower, Dictionary<int, byte[]> Upper, List<long> SplitOffsets);

    private static FileStats Statistics(DuckDbConnection connection, string file, IcebergSchema schema)
    {
        var literal = DuckDbSession.Literal(file);
        var rows = Rows(connection, 
            $"SELECT row_group_id, row_group_num_rows, path_in_schema, num_values, stats_min_value, stats_max_value, stats_null_count, total_compressed_size, " +
            $"coalesce(dictionary_page_offset, data_page_offset) AS start FROM parquet_metadata({literal}) ORDER BY row_group_id, column_id");
        var sizes = new Dictionary<int, long>();
        var values = new Dictionary<int, long>();
        var nulls = new Dictionary<int, long>();
        var min = new Dictionary<int, object>();
        var max = new Dictionary<int, object>();
        var noBounds = new HashSet<int>();
        var starts = new SortedDictionary<long, long>();
        var groups = new Dictionary<long, long>();
        foreach (var row in rows)
        {
            var group = (long)row[0]!;
            groups[group] = (long)row[1]!;
            if (row[8] is long start) starts[group] = starts.TryGetValue(group, out var s) ? Math.Min(s, start) : start;
            var path = ((string)row[2]!).Split(", ");
            var field = schema.Field(path[0]);
            if (field is null) continue;
            var id = field.IsList ? field.ElementId!.Value : field.Id;
            sizes[id] = sizes.GetValueOrDefault(id) + (long)row[7]!;
            if (field.IsList) continue;
            values[id] = values.GetValueOrDefault(id) + (long)row[3]!;
            if (row[6] is long n) nulls[id] = nulls.GetValueOrDefault(id) + n;
            if (noBounds.Contains(id)) continue;
            if (row[4] is not string lo || row[5] is not string hi || Parse(field.Type, lo) is not { } l || Parse(field.Type, hi) is not { } h)
            {
                // A row group without statistics for the column (all null, or values too long for DuckDB to keep): no bound is honest.
                if ((long)row[3]! > (row[6] as long? ?? 0)) noBounds.Add(id);
                continue;
            }
            if (!min.TryGetValue(id, out var m) || Compare(l, m) < 0) min[id] = l;
            if (!max.TryGetValue(id, out var x) || Compare(h, x) > 0) max[id] = h;
        }
        var lower = new Dictionary<int, byte[]>();
        var upper = new Dictionary<int, byte[]>();
        foreach (var (id, l) in min)
        {
            if (noBounds.Contains(id)) continue;
            var field = schema.Fields.First(f => f.Id == id);
            if (l is string ls)
            {
                lower[id] = SingleValue.Encode("string", SingleValue.LowerString(ls));
                if (SingleValue.UpperString((string)max[id]) is { } us) upper[id] = SingleValue.Encode("string", us);
                continue;
            }
            lower[id] = SingleValue.Encode(field.Type, l);
            upper[id] = SingleValue.Encode(field.Type, max[id]);
        }
        return new FileStats(groups.Values.Sum(), sizes, values, nulls, lower, upper, [.. starts.Values]);
    }

    private static object? Parse(string type, string text) => type switch
    {
        "long" => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : null,
        "double" => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && !double.IsNaN(d) ? d : null,
        "boolean" => text switch { "true" => true, "false" => false, _ => null },
        "timestamptz" => ParseTimestamp(text),
        "string" => text,
        _ => null,
    };

    /// <summary>DuckDB renders a TIMESTAMPTZ statistic in UTC as <c>2010-01-01 00:00:00[.ffffff]+00</c>; the bound is µs since the epoch.</summary>
    private static object? ParseTimestamp(string text)
    {
        var t = text.EndsWith("+00", StringComparison.Ordinal) ? text[..^3] : text;
        return DateTime.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var d)
            ? (d.Ticks - DateTime.UnixEpoch.Ticks) / 10
            : null;
    }

    /// <summary>Iceberg's order: numbers numerically, false before true, strings by their UTF-8 bytes.</summary>
    private static int Compare(object a, object b) => (a, b) switch
    {
        (long x, long y) => x.CompareTo(y),
        (double x, double y) => x.CompareTo(y),
        (bool x, bool y) => x.CompareTo(y),
        (string x, string y) => Encoding.UTF8.GetBytes(x).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y)),
        _ => 0,
    };

    /// <summary>Rows of a query on the staging connection (long, double, bool or string values).</summary>
    private static List<object?[]> Rows(DuckDbConnection connection, string sql)
    {
        using var result = connection.Query(sql);
        var list = new List<object?[]>();
        for (long r = 0; r < result.RowCount; r++)
        {
            var row = new object?[result.ColumnCount];
            for (var c = 0; c < row.Length; c++) row[c] = result.GetValue(c, r);
            list.Add(row);
        }
        return list;
    }
}

/// <summary>Turns store-relative paths into the absolute URIs Iceberg metadata holds, and back.</summary>
internal static class Locations
{
    public static string Root(IBlobStore store)
    {
        var root = store.Root.TrimEnd('/');
        if (root.Contains("://", StringComparison.Ordinal)) return root;
        return new Uri(Path.GetFullPath(root)).AbsoluteUri.TrimEnd('/');
    }

    public static string Uri(IBlobStore store, string relative) => $"{Root(store)}/{relative}";

    /// <summary>The store-relative path of a URI under the warehouse, or null for a file elsewhere.</summary>
    public static string? Relative(IBlobStore store, string uri)
    {
        var root = Root(store) + "/";
        if (uri.StartsWith(root, StringComparison.Ordinal)) return System.Uri.UnescapeDataString(uri[root.Length..]);
        // file:/x (Java's form) and file:///x name the same file.
        if (uri.StartsWith("file:/", StringComparison.Ordinal) && !uri.StartsWith("file://", StringComparison.Ordinal))
            return Relative(store, "file://" + uri["file:".Length..]);
        return null;
    }
}
