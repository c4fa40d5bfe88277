// Over ~250 lines on purpose: planning a chunk's files, writing them and the file journal around them are one
// crash-safety argument (journal, write, fsync, rename); the unit records live in ParquetDestination.Units.cs.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Records;
using Ingot.Sources;
using Ingot.Storage;

namespace Ingot.DuckDb.Parquet;

/// <summary>
/// The <c>parquet</c> destination: Hive-partitioned Parquet files (DESIGN §5):
/// <c>&lt;pipeline&gt;/&lt;stream&gt;/&lt;partition dirs&gt;/&lt;chunk-key&gt;-&lt;n&gt;.parquet</c>, with the record's fields
/// (typed as <see cref="ColumnType"/> describes, stable per stream through <c>_schema.json</c>) followed by the
/// metadata columns. A chunk's records are read once from their UTF-8 (<see cref="RowTable"/>: columns, types, hashes)
/// and written column by column (<see cref="BronzeParquetWriter"/>) into scratch files under <c>_tmp/</c> that the store
/// makes visible atomically. Chunks land concurrently; nothing is shared between them but the stream schema's lock.
/// </summary>
internal sealed partial class ParquetDestination : IDestination
{
    public const string TypeName = "parquet";

    /// <summary>Hive's name for a partition whose value is null or missing.</summary>
    public const string DefaultPartition = "__HIVE_DEFAULT_PARTITION__";

    public const string IngestionDatePartition = "ingestion_date";
    public const string LoadTypePartition = "load_type";
    public const string EventDatePartition = "event_date";

    private const string FileColumn = BronzeStaging.FileColumn;
    private const int MaxPartitionValueLength = 120;
    private static readonly JsonSerializerOptions JsonText = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IBlobStore _store;
    private readonly string _pipeline;
    private readonly string[] _partitionBy;
    private readonly string _compression;
    private readonly long _targetFileBytes;
    private readonly SemaphoreSlim _schemaLock = new(1, 1);

    public ParquetDestination(ParquetDestinationSpec spec, IBlobStore store, string pipeline, string name = TypeName)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(store);
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
    }

    /// <summary>The CLI composition root's entry: a parquet destination writing into <paramref name="store"/>.</summary>
    public static ParquetDestination Create(ParquetDestinationSpec spec, IBlobStore store, string pipeline, string name = TypeName) =>
        new(spec, store, pipeline, name);

    public CommitMode Mode => CommitMode.FileJournal;

    public string Name { get; }

    public Task ProbeAsync(string pipeline, CancellationToken cancellationToken) => Storage.StoreProbe.ProbeAsync(_store, pipeline, cancellationToken);

    public void WarmUp() => StartWarming();

    public async Task PrepareAsync(RunContext run, CancellationToken cancellationToken)
    {
        StartWarming();
        await _store.RemoveStaleTempsAsync(_pipeline, cancellationToken).ConfigureAwait(false);
    }

    public Task DeleteAsync(string path, CancellationToken cancellationToken) => _store.DeleteAsync(path, cancellationToken);

    public Task<string?> HashAsync(string path, CancellationToken cancellationToken) => RawDestination.HashOf(_store, path, cancellationToken);

    /// <summary>Lands one part of a unit (all of it, unless it is larger than a part): its files are visible when this returns.</summary>
    private async Task<IReadOnlyList<LandedFile>> LandPartAsync(RunContext run, WorkUnit chunk, Record[] records, Dictionary<string, int> next, IFileJournal journal, CancellationToken cancellationToken)
    {
        if (records.Length == 0) return [];

        // Rows of typed batches (a database source's pages) are read where the batches hold them; any other records in
        // one parallel pass over their UTF-8: columns and their types, every field located, every row hashed.
        using var rows = await Task.Run(() => (IPartTable?)BatchTable.TryRead(records, cancellationToken) ?? RowTable.Read(chunk.Key, records, cancellationToken), cancellationToken).ConfigureAwait(false);
        CheckColumnNames(chunk, rows.Names);
        var types = await ReconcileSchemaAsync(run, chunk, rows.Names, rows.Types, cancellationToken).ConfigureAwait(false);

        var files = PlanFiles(run, chunk, records, rows, next);
        var landed = new List<LandedFile>(files.Count);
        // Each file is written into a scratch folder under _tmp/, with an extension no `**/*.parquet` reader matches,
        // then appears under its final name by an atomic move (or one PUT on S3).
        var scratchRoot = _store.LocalScratchFor($"{_pipeline}/{chunk.Stream}/_tmp/{Guid.NewGuid():N}/x.parquet");
        try
        {
            await journal.WillWriteAsync(Name, files.Select(f => f.Path).ToList(), cancellationToken).ConfigureAwait(false);
            Directory.CreateDirectory(scratchRoot);
            foreach (var file in files)
            {
                var scratch = Path.Combine(scratchRoot, $"{file.Ordinal.ToString(CultureInfo.InvariantCulture)}.parquet_tmp");
                await Task.Run(() => BronzeParquetWriter.Write(scratch, _compression, run, chunk, records, rows, types, file.Rows, cancellationToken), cancellationToken).ConfigureAwait(false);
                var (sha256, bytes) = await PartBuffer.HashFileAsync(scratch, cancellationToken).ConfigureAwait(false);
                await _store.PutFileAsync(file.Path, scratch, cancellationToken).ConfigureAwait(false);
                landed.Add(new LandedFile(Name, file.Path, sha256, bytes));
            }
        }
        finally
        {
            try { Directory.Delete(scratchRoot, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return landed;
    }

    public string Where(string pipeline) => $"{_store.Root.TrimEnd('/')}/{pipeline}/<stream>/{string.Join('/', _partitionBy.Select(p => p + "=…"))}/*.parquet";

    public async ValueTask DisposeAsync()
    {
        await StopWarmingAsync().ConfigureAwait(false);
        _warmStop.Dispose();
        _schemaLock.Dispose();
    }

    // ---- columns and schema ----------------------------------------------------------------------------------

    /// <summary>Field names must not take a metadata column's name, nor differ from another only in case.</summary>
    internal static void CheckColumnNames(WorkUnit chunk, List<string> names)
    {
        // DuckDB (like most engines reading Parquet) matches column names case-insensitively.
        var folded = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in MetadataColumns.All) folded[name] = name;
        folded[FileColumn] = FileColumn;
        foreach (var name in names)
        {
            if (folded.TryGetValue(name, out var clash))
            {
                throw new InvalidDataException(MetadataColumns.All.Contains(clash) || clash == FileColumn
                    ? $"chunk '{chunk.Key}' of stream '{chunk.Stream}' has a field named '{name}', which is reserved for Ingot's metadata columns; rename it with a transform"
                    : $"chunk '{chunk.Key}' of stream '{chunk.Stream}' has fields '{clash}' and '{name}', which differ only in case; Parquet readers cannot tell them apart");
            }
            folded[name] = name;
        }
    }

    private async Task<ColumnType[]> ReconcileSchemaAsync(RunContext run, WorkUnit chunk, List<string> names, List<ColumnType> incoming, CancellationToken cancellationToken)
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
            var (types, changed) = current.Reconcile(chunk.Stream, chunk.Key, run.RunId, run.IngestedAt, names, incoming);
            if (changed is not null) await _store.WriteAsync(path, changed.ToJson(), cancellationToken).ConfigureAwait(false);
            return types;
        }
        finally
        {
            _schemaLock.Release();
        }
    }

    private sealed record PlannedFile(int Ordinal, string Path, int N, List<int> Rows);

    // ---- partitions and files ----------------------------------------------------------------------------------

    private List<PlannedFile> PlanFiles(RunContext run, WorkUnit chunk, Record[] records, IPartTable table, Dictionary<string, int> next)
    {
        var ingestionDate = run.IngestedAt.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var loadType = chunk.LoadType == LoadType.Full ? "full" : "incremental";
        var groups = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var order = new List<string>();
        var dir = new StringBuilder();
        var runLevel = Array.TrueForAll(_partitionBy, p => p is IngestionDatePartition or LoadTypePartition);
        var fieldColumns = _partitionBy.Select(p => table.Names.IndexOf(p)).ToArray();
        if (runLevel)
        {
            // Every partition value is the run's: one folder for the whole chunk, no key to build per record.
            foreach (var p in _partitionBy) dir.Append(p).Append('=').Append(p == IngestionDatePartition ? ingestionDate : loadType).Append('/');
            order.Add(dir.ToString());
            var all = new List<int>(records.Length);
            for (var r = 0; r < records.Length; r++) all.Add(r);
            groups[order[0]] = all;
        }
        // Records of a unit mostly share their partition with the record before: the folder is built only when a value
        // changes (an event date is compared by its day, not formatted per record).
        var values = new string[_partitionBy.Length];
        var lastDay = long.MinValue;
        string? lastDate = null;
        List<int>? group = null;
        for (var r = 0; !runLevel && r < records.Length; r++)
        {
            var changed = group is null;
            for (var i = 0; i < _partitionBy.Length; i++)
            {
                var p = _partitionBy[i];
                string value;
                if (p == EventDatePartition)
                {
                    var day = records[r].EventTs is { } ts ? ts.UtcTicks / TimeSpan.TicksPerDay : long.MinValue;
                    if (day != lastDay || lastDate is null)
                    {
                        lastDay = day;
                        lastDate = day == long.MinValue ? DefaultPartition : new DateTime(day * TimeSpan.TicksPerDay, DateTimeKind.Utc).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
                    }
                    value = lastDate;
                }
                else
                {
                    value = p switch
                    {
                        IngestionDatePartition => ingestionDate,
                        LoadTypePartition => loadType,
                        _ => PartitionValue(fieldColumns[i] < 0 ? null : table.Text(r, fieldColumns[i])),
                    };
                }
                if (values[i] != value) changed = true;
                values[i] = value;
            }
            if (changed)
            {
                dir.Clear();
                for (var i = 0; i < _partitionBy.Length; i++) dir.Append(_partitionBy[i]).Append('=').Append(values[i]).Append('/');
                var key = dir.ToString();
                if (!groups.TryGetValue(key, out group))
                {
                    groups[key] = group = [];
                    order.Add(key);
                }
            }
            group!.Add(r);
        }

        var files = new List<PlannedFile>();
        foreach (var key in order)
        {
            var rows = groups[key];
            // File numbers continue across the parts of a unit: <chunk-key>-<n>.parquet never repeats within a folder.
            var n = next.GetValueOrDefault(key);
            if (_targetFileBytes <= 0)
            {
                // No rolling: the partition's rows are the file's.
                files.Add(new PlannedFile(files.Count, FilePath(chunk, key, n), n, rows));
                next[key] = n + 1;
                continue;
            }
            var current = new List<int>();
            long bytes = 0;
            foreach (var r in rows)
            {
                var size = table.EstimateBytes(r);
                if (current.Count > 0 && bytes + size > _targetFileBytes)
                {
                    files.Add(new PlannedFile(files.Count, FilePath(chunk, key, n), n, current));
                    n++;
                    current = [];
                    bytes = 0;
                }
                bytes += size;
                current.Add(r);
            }
            files.Add(new PlannedFile(files.Count, FilePath(chunk, key, n), n, current));
            next[key] = n + 1;
        }
        return files;
    }

    private string FilePath(WorkUnit chunk, string partitionDirs, int n) =>
        $"{_pipeline}/{chunk.Stream}/{partitionDirs}{chunk.Key}-{n.ToString(CultureInfo.InvariantCulture)}.parquet";

    /// <summary>A record value (a string's text or any other value's JSON) as a Hive partition folder value: unsafe path characters become '_'.</summary>
    internal static string PartitionValue(string? text)
    {
        if (string.IsNullOrEmpty(text)) return DefaultPartition;
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
