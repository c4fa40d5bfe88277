using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.DuckDb.Native;
using Ingot.Records;
using Ingot.Storage;

namespace Ingot.DuckDb.Parquet;

/// <summary>
/// The <c>parquet</c> destination: Hive-partitioned Parquet files written by DuckDB (DESIGN §5):
/// <c>&lt;pipeline&gt;/&lt;stream&gt;/&lt;partition dirs&gt;/&lt;chunk-key&gt;-&lt;n&gt;.parquet</c>, with the record's fields
/// (typed as <see cref="ColumnType"/> describes, stable per stream through <c>_schema.json</c>) followed by the
/// metadata columns. Rows go through DuckDB's appender into an in-memory table, then <c>COPY ... TO</c> a <c>_tmp_</c>
/// scratch file that the store makes visible atomically. One in-memory database per destination; each
/// <see cref="LandAsync"/> uses its own connection, so chunks may land concurrently.
/// </summary>
internal sealed class ParquetDestination : IDestination
{
    public const string TypeName = "parquet";

    /// <summary>Hive's name for a partition whose value is null or missing.</summary>
    public const string DefaultPartition = "__HIVE_DEFAULT_PARTITION__";

    public const string IngestionDatePartition = "ingestion_date";
    public const string LoadTypePartition = "load_type";
    public const string EventDatePartition = "event_date";

    private const string FileColumn = "__ingot_file";
    private const int MaxPartitionValueLength = 120;
    private static readonly JsonSerializerOptions JsonText = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IBlobStore _store;
    private readonly string _pipeline;
    private readonly string[] _partitionBy;
    private readonly string _compression;
    private readonly long _targetFileBytes;
    private readonly DuckDbDatabase _database;
    private readonly SemaphoreSlim _schemaLock = new(1, 1);

    public ParquetDestination(DestinationSpec spec, IBlobStore store, string pipeline, string name = TypeName)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(store);
        if (!string.Equals(spec.Type, TypeName, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"a parquet destination needs type '{TypeName}', not '{spec.Type}'", nameof(spec));
        RequireSafeSegment(pipeline, "pipeline name");
        _store = store;
        _pipeline = pipeline;
        Name = name;
        _compression = (string.IsNullOrWhiteSpace(spec.Compression) ? "zstd" : spec.Compression.Trim().ToLowerInvariant()) switch
        {
            "zstd" => "zstd",
            "snappy" => "snappy",
            "uncompressed" or "none" => "uncompressed",
            var other => throw new ArgumentException($"parquet compression '{other}' is not supported (zstd, snappy, uncompressed)", nameof(spec)),
        };
        if (spec.TargetFileBytes < 0) throw new ArgumentException("target file size must not be negative", nameof(spec));
        _targetFileBytes = spec.TargetFileBytes;
        _partitionBy = [.. spec.PartitionBy];
        foreach (var p in _partitionBy) RequireSafeSegment(p, "partition_by entry");
        if (_partitionBy.Distinct(StringComparer.OrdinalIgnoreCase).Count() != _partitionBy.Length)
            throw new ArgumentException("partition_by lists a column twice", nameof(spec));
        _database = DuckDbDatabase.Open();
    }

    /// <summary>The CLI composition root's entry: a parquet destination writing into <paramref name="store"/>.</summary>
    public static ParquetDestination Create(DestinationSpec spec, IBlobStore store, string pipeline, string name = TypeName) =>
        new(spec, store, pipeline, name);

    public string Name { get; }

    public async Task PrepareAsync(RunContext run, CancellationToken cancellationToken) =>
        await _store.RemoveStaleTempsAsync(_pipeline, cancellationToken).ConfigureAwait(false);

    public Task DeleteAsync(string path, CancellationToken cancellationToken) => _store.DeleteAsync(path, cancellationToken);

    public Task<string?> HashAsync(string path, CancellationToken cancellationToken) => RawDestination.HashOf(_store, path, cancellationToken);

    public async Task<IReadOnlyList<LandedFile>> LandAsync(RunContext run, ChunkData chunk, IFileJournal journal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(chunk);
        ArgumentNullException.ThrowIfNull(journal);
        RequireSafeSegment(chunk.Stream, "stream name");
        RequireSafeSegment(chunk.ChunkKey, "chunk key");

        var records = chunk.Records.ToArray();
        if (records.Length == 0) return [];

        var (names, incoming) = InferColumns(chunk, records);
        var types = await ReconcileSchemaAsync(run, chunk, names, incoming, cancellationToken).ConfigureAwait(false);

        var staged = await Task.Run(() => Stage(run, chunk, records, names, types, cancellationToken), cancellationToken).ConfigureAwait(false);
        using var connection = staged.Connection;
        var landed = new List<LandedFile>(staged.Files.Count);
        // One COPY writes every file of the chunk (partitioned by file ordinal) into a scratch folder under _tmp/, with
        // an extension no `**/*.parquet` reader matches; each file then appears under its final name by an atomic move
        // (or one PUT on S3).
        var scratchRoot = _store.LocalScratchFor($"{_pipeline}/{chunk.Stream}/_tmp/{Guid.NewGuid():N}/x.parquet");
        try
        {
            await journal.WillWriteAsync(Name, staged.Files.Select(f => f.Path).ToList(), cancellationToken).ConfigureAwait(false);
            await Task.Run(() => connection.Execute(
                $"COPY ({staged.SelectAll()}) TO {DuckDbSession.Literal(scratchRoot)} (FORMAT parquet, COMPRESSION {_compression}, PARTITION_BY ({FileColumn}), OVERWRITE_OR_IGNORE true, FILE_EXTENSION 'parquet_tmp')"),
                cancellationToken).ConfigureAwait(false);
            foreach (var file in staged.Files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var written = Directory.GetFiles(Path.Combine(scratchRoot, $"{FileColumn}={file.Ordinal.ToString(CultureInfo.InvariantCulture)}"), "*.parquet_tmp");
                if (written.Length != 1)
                    throw new InvalidDataException($"chunk '{chunk.ChunkKey}': DuckDB wrote {written.Length} files for {file.Path}, expected one");
                var scratch = written[0];
                string sha256;
                long bytes;
                var fs = new FileStream(scratch, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
                await using (fs.ConfigureAwait(false))
                {
                    bytes = fs.Length;
                    sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(fs, cancellationToken).ConfigureAwait(false));
                }
                await _store.PutFileAsync(file.Path, scratch, cancellationToken).ConfigureAwait(false);
                landed.Add(new LandedFile(Name, file.Path, sha256, bytes));
            }
        }
        finally
        {
            try { Directory.Delete(scratchRoot, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            try { connection.Execute($"DROP TABLE IF EXISTS {staged.Table}"); }
            catch (DuckDbException) { /* the connection closes next; an in-memory table dies with the database */ }
        }
        return landed;
    }

    public string Where(string pipeline) => $"{_store.Root.TrimEnd('/')}/{pipeline}/<stream>/{string.Join('/', _partitionBy.Select(p => p + "=…"))}/*.parquet";

    public ValueTask DisposeAsync()
    {
        _database.Dispose();
        _schemaLock.Dispose();
        return ValueTask.CompletedTask;
    }

    // ---- columns and schema ----------------------------------------------------------------------------------

    private static (List<string> Names, List<ColumnType> Types) InferColumns(ChunkData chunk, Record[] records)
    {
        var names = new List<string>();
        var types = new List<ColumnType>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        // DuckDB (like most engines reading Parquet) matches column names case-insensitively.
        var folded = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in MetadataColumns.All) folded[name] = name;
        folded[FileColumn] = FileColumn;
        foreach (var record in records)
        {
            foreach (var (name, value) in record.Fields)
            {
                var kind = ColumnTypes.Classify(value);
                if (index.TryGetValue(name, out var i))
                {
                    types[i] = ColumnTypes.MergeWithinChunk(types[i], kind);
                    continue;
                }
                if (folded.TryGetValue(name, out var clash))
                {
                    throw new InvalidDataException(MetadataColumns.All.Contains(clash) || clash == FileColumn
                        ? $"chunk '{chunk.ChunkKey}' of stream '{chunk.Stream}' has a field named '{name}', which is reserved for Ingot's metadata columns; rename it with a transform"
                        : $"chunk '{chunk.ChunkKey}' of stream '{chunk.Stream}' has fields '{clash}' and '{name}', which differ only in case; Parquet readers cannot tell them apart");
                }
                folded[name] = name;
                index[name] = names.Count;
                names.Add(name);
                types.Add(kind);
            }
        }
        return (names, types);
    }

    private async Task<ColumnType[]> ReconcileSchemaAsync(RunContext run, ChunkData chunk, List<string> names, List<ColumnType> incoming, CancellationToken cancellationToken)
    {
        var path = $"{_pipeline}/{chunk.Stream}/{StreamSchema.FileName}";
        await _schemaLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = StreamSchema.Empty;
            var stream = await _store.OpenReadAsync(path, cancellationToken).ConfigureAwait(false);
            if (stream is not null)
            {
                await using (stream.ConfigureAwait(false))
                {
                    using var buffer = new MemoryStream();
                    await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
                    current = StreamSchema.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
                }
            }
            var (types, changed) = current.Reconcile(chunk.Stream, chunk.ChunkKey, run.RunId, run.IngestedAt, names, incoming);
            if (changed is not null) await _store.WriteAsync(path, changed.ToJson(), cancellationToken).ConfigureAwait(false);
            return types;
        }
        finally
        {
            _schemaLock.Release();
        }
    }

    // ---- staging ------------------------------------------------------------------------------------------------

    private sealed record PlannedFile(int Ordinal, string Path, int N, List<int> Rows);

    private sealed class Staged(DuckDbConnection connection, string table, List<PlannedFile> files, string selectList)
    {
        public DuckDbConnection Connection { get; } = connection;
        public string Table { get; } = table;
        public List<PlannedFile> Files { get; } = files;
        public string SelectAll() => $"SELECT {FileColumn}, {selectList} FROM {Table}";
    }

    private Staged Stage(RunContext run, ChunkData chunk, Record[] records, List<string> names, ColumnType[] types, CancellationToken cancellationToken)
    {
        var hashes = HashAll(records, cancellationToken);
        var files = PlanFiles(run, chunk, records);

        var table = $"ingot_stage_{Guid.NewGuid():N}";
        var create = new StringBuilder($"CREATE TABLE {table} ({FileColumn} INTEGER");
        var select = new StringBuilder();
        for (var i = 0; i < names.Count; i++)
        {
            var id = DuckDbSession.Identifier(names[i]);
            // Lists travel as JSON text and become LISTs in the COPY: the appender's list API costs a native value per element.
            create.Append(", ").Append(id).Append(' ').Append(types[i].IsList() ? "VARCHAR" : types[i].Sql());
            select.Append(types[i] switch
            {
                ColumnType.VarcharList or ColumnType.EmptyList => $"CAST(from_json({id}, '[\"VARCHAR\"]') AS VARCHAR[]) AS {id}",
                ColumnType.DoubleList => $"CAST(from_json({id}, '[\"DOUBLE\"]') AS DOUBLE[]) AS {id}",
                _ => id,
            }).Append(", ");
        }
        create.Append($", {MetadataColumns.RecordHash} VARCHAR, {MetadataColumns.EventTs} TIMESTAMP)");
        var ingestedAt = run.IngestedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture) + "+00";
        select.Append(CultureInfo.InvariantCulture,
            $"{DuckDbSession.Literal(run.RunId.ToString())} AS {MetadataColumns.IngestionId}, " +
            $"TIMESTAMPTZ {DuckDbSession.Literal(ingestedAt)} AS {MetadataColumns.IngestedAt}, " +
            $"{DuckDbSession.Literal(run.SourceSystem)} AS {MetadataColumns.SourceSystem}, " +
            $"{DuckDbSession.Literal(chunk.Stream)} AS {MetadataColumns.Stream}, " +
            $"{DuckDbSession.Literal(chunk.ChunkKey)} AS {MetadataColumns.ChunkKey}, " +
            $"{MetadataColumns.RecordHash}, " +
            $"CAST({MetadataColumns.EventTs} AS TIMESTAMPTZ) AS {MetadataColumns.EventTs}");

        var connection = _database.Connect();
        try
        {
            // TIMESTAMP → TIMESTAMPTZ casts read the session zone: the staged times are UTC.
            connection.Execute("SET TimeZone='UTC'");
            connection.Execute(create.ToString());
            using (var appender = connection.CreateAppender(table))
            {
                AppendRows(appender, records, files, names, types, hashes, cancellationToken);
                appender.Close();
            }
            return new Staged(connection, table, files, select.ToString());
        }
        catch
        {
            try { connection.Execute($"DROP TABLE IF EXISTS {table}"); } catch (DuckDbException) { }
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fills DuckDB data chunks column by column (one pass per column over a batch of rows, typed writes straight into
    /// the vectors) and appends each chunk in one call. Column order: file ordinal, fields, record hash, event time.
    /// </summary>
    private static void AppendRows(DuckDbAppender appender, Record[] records, List<PlannedFile> files, List<string> names, ColumnType[] types,
        byte[] hashes, CancellationToken cancellationToken)
    {
        var columnTypes = new List<DuckDbType>(names.Count + 3) { DuckDbType.Integer };
        foreach (var type in types) columnTypes.Add(type switch
        {
            ColumnType.BigInt => DuckDbType.BigInt,
            ColumnType.Double => DuckDbType.Double,
            ColumnType.Boolean => DuckDbType.Boolean,
            _ => DuckDbType.Varchar,
        });
        columnTypes.Add(DuckDbType.Varchar);
        columnTypes.Add(DuckDbType.Timestamp);
        var hashColumn = names.Count + 1;
        var eventColumn = names.Count + 2;

        using var chunk = new DuckDbDataChunk(columnTypes);
        var batch = new int[chunk.Capacity];
        var values = new JsonNode?[chunk.Capacity];
        var utf8 = new byte[256];
        foreach (var file in files)
        {
            for (var offset = 0; offset < file.Rows.Count; offset += batch.Length)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var n = Math.Min(batch.Length, file.Rows.Count - offset);
                file.Rows.CopyTo(offset, batch, 0, n);
                chunk.Reset();
                for (var row = 0; row < n; row++)
                {
                    var r = batch[row];
                    chunk.SetInt32(0, row, file.Ordinal);
                    chunk.SetUtf8(hashColumn, row, hashes.AsSpan(r * HashLength, HashLength));
                    if (records[r].EventTs is { } ts) chunk.SetTimestamp(eventColumn, row, ts);
                    else chunk.SetNull(eventColumn, row);
                }
                for (var c = 0; c < names.Count; c++)
                {
                    var name = names[c];
                    for (var row = 0; row < n; row++) records[batch[row]].Fields.TryGetPropertyValue(name, out values[row]);
                    SetColumn(chunk, c + 1, types[c], values.AsSpan(0, n), ref utf8);
                }
                Array.Clear(values);
                chunk.SetSize(n);
                appender.AppendChunk(chunk);
            }
        }
    }

    /// <summary>One column of a batch; values convert exactly as <see cref="ColumnTypes"/> classified them.</summary>
    private static void SetColumn(DuckDbDataChunk chunk, int column, ColumnType type, ReadOnlySpan<JsonNode?> values, ref byte[] utf8)
    {
        for (var row = 0; row < values.Length; row++)
        {
            var value = values[row];
            if (value is null || value.GetValueKind() == JsonValueKind.Null)
            {
                chunk.SetNull(column, row);
                continue;
            }
            switch (type)
            {
                case ColumnType.BigInt:
                    ColumnTypes.TryGetInt64(value.AsValue(), out var l);
                    chunk.SetInt64(column, row, l);
                    break;
                case ColumnType.Double:
                    chunk.SetDouble(column, row, ColumnTypes.GetDouble(value.AsValue()));
                    break;
                case ColumnType.Boolean:
                    chunk.SetBoolean(column, row, value.GetValue<bool>());
                    break;
                default:
                    var text = value is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : value.ToJsonString(JsonText);
                    var max = Encoding.UTF8.GetMaxByteCount(text.Length);
                    if (max > utf8.Length) utf8 = new byte[Math.Max(max, utf8.Length * 2)];
                    var length = Encoding.UTF8.GetBytes(text, utf8);
                    chunk.SetUtf8(column, row, utf8.AsSpan(0, length));
                    break;
            }
        }
    }

    private const int HashLength = 32;

    /// <summary>Every record's hash as 32 lowercase hex bytes, record <c>i</c> at <c>32 * i</c>.</summary>
    private static byte[] HashAll(Record[] records, CancellationToken cancellationToken)
    {
        var hashes = new byte[records.Length * HashLength];
        if (records.Length < 4096)
        {
            for (var i = 0; i < records.Length; i++) RecordHasher.Md5HexUtf8(records[i].Fields, hashes.AsSpan(i * HashLength, HashLength));
            return hashes;
        }
        Parallel.ForEach(
            System.Collections.Concurrent.Partitioner.Create(0, records.Length, 2048),
            new ParallelOptions { CancellationToken = cancellationToken },
            range =>
            {
                for (var i = range.Item1; i < range.Item2; i++) RecordHasher.Md5HexUtf8(records[i].Fields, hashes.AsSpan(i * HashLength, HashLength));
            });
        return hashes;
    }

    // ---- partitions and files ----------------------------------------------------------------------------------

    private List<PlannedFile> PlanFiles(RunContext run, ChunkData chunk, Record[] records)
    {
        var ingestionDate = run.IngestedAt.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var loadType = run.LoadType == LoadType.Full ? "full" : "incremental";
        var groups = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var order = new List<string>();
        var dir = new StringBuilder();
        var runLevel = Array.TrueForAll(_partitionBy, p => p is IngestionDatePartition or LoadTypePartition);
        if (runLevel)
        {
            // Every partition value is the run's: one folder for the whole chunk, no key to build per record.
            foreach (var p in _partitionBy) dir.Append(p).Append('=').Append(p == IngestionDatePartition ? ingestionDate : loadType).Append('/');
            order.Add(dir.ToString());
            var all = new List<int>(records.Length);
            for (var r = 0; r < records.Length; r++) all.Add(r);
            groups[order[0]] = all;
        }
        for (var r = 0; !runLevel && r < records.Length; r++)
        {
            dir.Clear();
            foreach (var p in _partitionBy)
            {
                var value = p switch
                {
                    IngestionDatePartition => ingestionDate,
                    LoadTypePartition => loadType,
                    EventDatePartition => records[r].EventTs is { } ts ? ts.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : DefaultPartition,
                    _ => PartitionValue(records[r].Fields.TryGetPropertyValue(p, out var node) ? node : null),
                };
                dir.Append(p).Append('=').Append(value).Append('/');
            }
            var key = dir.ToString();
            if (!groups.TryGetValue(key, out var rows))
            {
                groups[key] = rows = [];
                order.Add(key);
            }
            rows.Add(r);
        }

        var files = new List<PlannedFile>();
        foreach (var key in order)
        {
            var rows = groups[key];
            var n = 0;
            var current = new List<int>();
            long bytes = 0;
            foreach (var r in rows)
            {
                if (_targetFileBytes > 0)
                {
                    var size = EstimateBytes(records[r]);
                    if (current.Count > 0 && bytes + size > _targetFileBytes)
                    {
                        files.Add(new PlannedFile(files.Count, FilePath(chunk, key, n), n, current));
                        n++;
                        current = [];
                        bytes = 0;
                    }
                    bytes += size;
                }
                current.Add(r);
            }
            files.Add(new PlannedFile(files.Count, FilePath(chunk, key, n), n, current));
        }
        return files;
    }

    private string FilePath(ChunkData chunk, string partitionDirs, int n) =>
        $"{_pipeline}/{chunk.Stream}/{partitionDirs}{chunk.ChunkKey}-{n.ToString(CultureInfo.InvariantCulture)}.parquet";

    /// <summary>A rough uncompressed size of a row: enough to roll files near the target, not exact.</summary>
    private static long EstimateBytes(Record record)
    {
        long size = 120; // metadata columns
        foreach (var (_, value) in record.Fields)
        {
            size += value switch
            {
                null => 1,
                JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>().Length + 4,
                JsonValue => 8,
                _ => value.ToJsonString().Length,
            };
        }
        return size;
    }

    /// <summary>A record value as a Hive partition folder value: unsafe path characters become '_'.</summary>
    internal static string PartitionValue(JsonNode? node)
    {
        if (node is null || node.GetValueKind() == JsonValueKind.Null) return DefaultPartition;
        var text = node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : node.ToJsonString(JsonText);
        if (text.Length == 0) return DefaultPartition;
        var sb = new StringBuilder(Math.Min(text.Length, MaxPartitionValueLength));
        foreach (var ch in text)
        {
            if (sb.Length == MaxPartitionValueLength) break;
            sb.Append(char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.' or '+' or '@' ? ch : '_');
        }
        var result = sb.ToString();
        return result is "." or ".." ? "_" : result;
    }

    private static void RequireSafeSegment(string value, string what)
    {
        if (string.IsNullOrEmpty(value) || value is "." or ".." || value.AsSpan().IndexOfAny('/', '\\', '\0') >= 0)
            throw new ArgumentException($"the {what} '{value}' is not safe as a path segment");
    }

    private static void TryDelete(string file)
    {
        try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
