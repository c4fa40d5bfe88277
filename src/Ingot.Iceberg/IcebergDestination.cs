using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.DuckDb;
using Ingot.DuckDb.Parquet;
using Ingot.Iceberg.Catalog;
using Ingot.Iceberg.Table;
using Ingot.Records;
using Ingot.Sources;
using Ingot.Storage;

namespace Ingot.Iceberg;

/// <summary>
/// The <c>iceberg</c> destination (DESIGN §4.2, system B), in <see cref="CommitMode.GroupCommit"/>: one v2 table per stream
/// under <c>&lt;warehouse&gt;/&lt;namespace&gt;/&lt;table&gt;</c>, registered in a SQL catalog. A unit's records are staged as
/// Parquet data files (journaled, visible, referenced by no snapshot); <see cref="CommitGroupAsync"/> makes a group of
/// units visible in one snapshot per table, by compare-and-swap of the catalog's <c>metadata_location</c>, and the
/// snapshot summary names the run and the units it holds. A unit key the table already holds (a refresh, a unit repeated
/// after a crash between the table's commit and the state's) is an <c>overwrite</c> of that unit's files, never a second copy.
/// </summary>
internal sealed partial class IcebergDestination : IGroupCommitDestination, IVerifiableDestination
{
    public const string TypeName = "iceberg";

    /// <summary>Summary keys: the run that committed the snapshot, its units, and the units it retired.</summary>
    public const string RunKey = "ingot.run-id", UnitsKey = "ingot.units", RetiredKey = "ingot.retired";

    private readonly IcebergDestinationSpec _spec;
    private readonly IBlobStore _store;
    private readonly PipelineSpec _pipeline;
    private readonly TimeProvider _time;
    private readonly SqlCatalog _catalog;
    private readonly DuckDbDatabase _database;
    private readonly DataFileWriter _writer;
    private readonly ConcurrentDictionary<string, TableState> _tables = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StagedUnit> _staged = new(StringComparer.Ordinal);

    public IcebergDestination(IcebergDestinationSpec spec, IBlobStore store, PipelineSpec pipeline, TimeProvider time, string name = TypeName)
    {
        _spec = spec;
        _store = store;
        _pipeline = pipeline;
        _time = time;
        Name = name;
        _catalog = new SqlCatalog(spec.Catalog);
        _database = DuckDbDatabase.Open();
        _writer = new DataFileWriter(_database, store, name, spec.PartitionBy, spec.TargetFileBytes);
    }

    public string Name { get; }

    public CommitMode Mode => CommitMode.GroupCommit;

    /// <summary>Units per snapshot: a month of NOAA windows per commit, not a snapshot per unit.</summary>
    public int GroupSize => 32;

    public string Where(string pipeline) =>
        $"{_store.Root.TrimEnd('/')}/{_spec.Namespace}/{_spec.Table.Replace("{pipeline}", pipeline, StringComparison.Ordinal).Replace("{stream}", "<stream>", StringComparison.Ordinal).Replace("{source}", "<source>", StringComparison.Ordinal)} " +
        $"(catalog {_catalog.Describe}, {_spec.CatalogName}.{_spec.Namespace})";

    /// <summary>A unit staged by <see cref="Writer"/>, waiting for its group's commit.</summary>
    private sealed record StagedUnit(WorkUnit Unit, string Attempt, IReadOnlyList<StagedFile> Files, long Records, string? Checkpoint, TableState Table);

    internal TableState TableFor(string stream)
    {
        return _tables.GetOrAdd(stream, s =>
        {
            var source = _pipeline.Sources.FirstOrDefault(x => x.Streams.Contains(s, StringComparer.Ordinal))?.Name ?? "";
            var name = _spec.Table.Replace("{pipeline}", _pipeline.Name, StringComparison.Ordinal)
                .Replace("{source}", source, StringComparison.Ordinal).Replace("{stream}", s, StringComparison.Ordinal);
            if (name.Length == 0 || name.AsSpan().IndexOfAny('/', '\\', '\0') >= 0 || name is "." or "..")
                throw new InvalidDataException($"iceberg table name '{name}' (for stream '{s}') is not usable as a folder name");
            var root = $"{_spec.Namespace}/{name}";
            return new TableState(s, name, root, Locations.Uri(_store, root));
        });
    }

    /// <summary>Reads the table's current metadata from the catalog (null metadata when the table does not exist yet).</summary>
    private async Task<(string? Location, TableMetadata? Metadata)> LoadAsync(TableState table, CancellationToken cancellationToken)
    {
        var location = await _catalog.LoadAsync(_spec.CatalogName, _spec.Namespace, table.Name, cancellationToken).ConfigureAwait(false);
        if (location is null) return (null, null);
        var bytes = await ReadAsync(location, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"the catalog points table {_spec.Namespace}.{table.Name} at {location}, which does not exist");
        return (location, TableMetadata.Parse(bytes, location));
    }

    private async Task<byte[]?> ReadAsync(string uri, CancellationToken cancellationToken)
    {
        var relative = Locations.Relative(_store, uri) ?? throw new InvalidDataException($"{uri} is outside the warehouse {_store.Root}; Ingot reads tables under its warehouse only");
        var stream = await _store.OpenReadAsync(relative, cancellationToken).ConfigureAwait(false);
        if (stream is null) return null;
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            return buffer.ToArray();
        }
    }

    private async Task<string> WriteMetadataFileAsync(TableState table, string name, byte[] bytes, CancellationToken cancellationToken)
    {
        var relative = $"{table.RelativeRoot}/metadata/{name}";
        await _store.WriteAsync(relative, bytes, cancellationToken).ConfigureAwait(false);
        return Locations.Uri(_store, relative);
    }

    public async Task PrepareAsync(RunContext run, CancellationToken cancellationToken)
    {
        foreach (var stream in _pipeline.Streams)
        {
            var table = TableFor(stream);
            await RemoveStaleScratchAsync(table, cancellationToken).ConfigureAwait(false);
            var (location, metadata) = await LoadAsync(table, cancellationToken).ConfigureAwait(false);
            table.Adopt(location, metadata);
        }
    }

    /// <summary>How old a temp file under a table must be before a run removes it: another run may be writing the same table.</summary>
    internal static readonly TimeSpan StaleAfter = TimeSpan.FromHours(1);

    /// <summary>
    /// Temp files a crashed run left under the table. A table may be shared by runs of several pipelines (concurrent
    /// writers): on a local disk only temps older than <see cref="StaleAfter"/> go, so a starting run never takes the
    /// scratch files of one still writing. (Other stores stage in local scratch, so their temps are this machine's.)
    /// </summary>
    private async Task RemoveStaleScratchAsync(TableState table, CancellationToken cancellationToken)
    {
        if (_store is not LocalBlobStore local)
        {
            await _store.RemoveStaleTempsAsync(table.RelativeRoot, cancellationToken).ConfigureAwait(false);
            return;
        }
        var root = local.FullPath(table.RelativeRoot);
        if (!Directory.Exists(root)) return;
        var cutoff = _time.GetUtcNow().UtcDateTime - StaleAfter;
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var relative = Path.GetRelativePath(local.FullPath(""), file).Replace(Path.DirectorySeparatorChar, '/');
            if (!LocalBlobStore.IsTemp(relative)) continue;
            try
            {
                if (File.GetLastWriteTimeUtc(file) < cutoff) File.Delete(file);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    public async Task<IUnitWriter> BeginAsync(RunContext run, WorkUnit unit, IFileJournal journal, CancellationToken cancellationToken)
    {
        var table = TableFor(unit.Stream);
        if (!table.Loaded)
        {
            var (location, metadata) = await LoadAsync(table, cancellationToken).ConfigureAwait(false);
            table.Adopt(location, metadata);
        }
        if (unit.Key.AsSpan().IndexOfAny('/', '\\', '\0') >= 0) throw new InvalidDataException($"chunk key '{unit.Key}' is not safe as a file name");
        return new Writer(this, run, unit, journal, table);
    }

    /// <summary>Table property: the file holding the unit records of expired snapshots whose files are still live (see expire-snapshots).</summary>
    public const string CarriedUnitsProperty = "ingot.carried-units";

    /// <summary>
    /// The units the table holds: the snapshots' summaries newest first along the main branch (a retired or repeated key
    /// counts once), then the records carried over from snapshots that expire-snapshots removed.
    /// </summary>
    internal async Task<Dictionary<string, (JsonObject Entry, Guid? RunId, long SnapshotId)>> UnitsAsync(TableMetadata metadata, CancellationToken cancellationToken)
    {
        var units = new Dictionary<string, (JsonObject, Guid?, long)>(StringComparer.Ordinal);
        var retired = new HashSet<string>(StringComparer.Ordinal);
        foreach (var snapshot in metadata.Ancestry())
        {
            var summary = snapshot["summary"] as JsonObject;
            if (summary?[UnitsKey]?.GetValue<string>() is not { } text) continue;
            var runId = Guid.TryParse(summary[RunKey]?.GetValue<string>(), out var r) ? r : (Guid?)null;
            var id = snapshot["snapshot-id"]!.GetValue<long>();
            foreach (var entry in JsonNode.Parse(text)!.AsArray().OfType<JsonObject>())
            {
                var key = entry["key"]!.GetValue<string>();
                if (!retired.Contains(key)) units.TryAdd(key, (entry, runId, id));
            }
            if (summary[RetiredKey]?.GetValue<string>() is { } gone)
                foreach (var key in JsonNode.Parse(gone)!.AsArray()) retired.Add(key!.GetValue<string>());
        }
        foreach (var entry in await CarriedAsync(metadata, cancellationToken).ConfigureAwait(false))
        {
            var key = entry["key"]!.GetValue<string>();
            if (!retired.Contains(key))
                units.TryAdd(key, (entry, Guid.TryParse(entry["run-id"]?.GetValue<string>(), out var r) ? r : null, entry["snapshot-id"]?.GetValue<long>() ?? 0));
        }
        return units;
    }

    private async Task<List<JsonObject>> CarriedAsync(TableMetadata metadata, CancellationToken cancellationToken)
    {
        if (!metadata.Properties.TryGetValue(CarriedUnitsProperty, out var uri)) return [];
        var bytes = await ReadAsync(uri, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidDataException($"the table's carried unit records {uri} are missing");
        return JsonNode.Parse(bytes)!.AsArray().OfType<JsonObject>().ToList();
    }

    public async IAsyncEnumerable<LakeUnit> ListCommittedAsync(string pipeline, IReadOnlyCollection<string> streams, bool details, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var stream in streams)
        {
            var table = TableFor(stream);
            var (_, metadata) = await LoadAsync(table, cancellationToken).ConfigureAwait(false);
            if (metadata is null) continue;
            foreach (var (key, (entry, runId, _)) in await UnitsAsync(metadata, cancellationToken).ConfigureAwait(false))
            {
                yield return new LakeUnit(Name, key, entry["stream"]?.GetValue<string>() ?? stream, runId, entry["identity"]?.GetValue<string>(),
                    entry["bounds"]?.GetValue<string>(), entry["records"]?.GetValue<long>() ?? 0, [])
                { Checkpoint = entry["checkpoint"]?.GetValue<string>() };
            }
        }
    }

    /// <summary>
    /// Deletes a staged file no snapshot ever committed (a failed group, a repeated unit's spare copy). A file whose attempt a
    /// snapshot holds stays: older snapshots still read it, and <c>expire-snapshots</c> / <c>remove-orphans</c> remove it in time.
    /// </summary>
    public async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        var table = _tables.Values.FirstOrDefault(t => path.StartsWith(t.RelativeRoot + "/data/", StringComparison.Ordinal));
        if (table is null || AttemptOf(path) is not { } attempt) return;
        if ((await CommittedAttemptsAsync(table, cancellationToken).ConfigureAwait(false)).Contains(attempt)) return;
        await _store.DeleteAsync(path, cancellationToken).ConfigureAwait(false);
    }

    private readonly ConcurrentDictionary<string, (string Location, HashSet<string> Attempts)> _attempts = new(StringComparer.Ordinal);

    /// <summary>The committed attempts of the table as the catalog has it now (parsed again only when its metadata moved).</summary>
    private async Task<HashSet<string>> CommittedAttemptsAsync(TableState table, CancellationToken cancellationToken)
    {
        var location = await _catalog.LoadAsync(_spec.CatalogName, _spec.Namespace, table.Name, cancellationToken).ConfigureAwait(false);
        if (location is null) return [];
        if (_attempts.TryGetValue(table.Name, out var cached) && cached.Location == location) return cached.Attempts;
        var (now, metadata) = await LoadAsync(table, cancellationToken).ConfigureAwait(false);
        var attempts = metadata is null ? [] : await CommittedAttemptsAsync(metadata, cancellationToken).ConfigureAwait(false);
        if (now is not null) _attempts[table.Name] = (now, attempts);
        return attempts;
    }

    /// <summary>The attempt in a data file name <c>&lt;chunk-key&gt;-&lt;attempt&gt;-&lt;n&gt;.parquet</c>.</summary>
    internal static string? AttemptOf(string path)
    {
        var name = path[(path.LastIndexOf('/') + 1)..];
        if (!name.EndsWith(".parquet", StringComparison.Ordinal)) return null;
        name = name[..^".parquet".Length];
        var last = name.LastIndexOf('-');
        if (last <= 0) return null;
        var before = name.LastIndexOf('-', last - 1);
        return before < 0 ? null : name[(before + 1)..last];
    }

    /// <summary>Every attempt any snapshot of the table committed (not only the main branch's: a file is kept while anything may read it), and the carried ones.</summary>
    private async Task<HashSet<string>> CommittedAttemptsAsync(TableMetadata metadata, CancellationToken cancellationToken)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var snapshot in metadata.Snapshots)
        {
            if ((snapshot["summary"] as JsonObject)?[UnitsKey]?.GetValue<string>() is not { } text) continue;
            foreach (var entry in JsonNode.Parse(text)!.AsArray().OfType<JsonObject>())
                if (entry["attempt"]?.GetValue<string>() is { } a) set.Add(a);
        }
        foreach (var entry in await CarriedAsync(metadata, cancellationToken).ConfigureAwait(false))
            if (entry["attempt"]?.GetValue<string>() is { } a) set.Add(a);
        return set;
    }

    public Task<string?> HashAsync(string path, CancellationToken cancellationToken) => RawDestination.HashOf(_store, path, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _catalog.DisposeAsync().ConfigureAwait(false);
        _database.Dispose();
    }

    /// <summary>Gathers a unit's records into parts (memory bounded by a part), each written as data files when full.</summary>
    private sealed class Writer(IcebergDestination owner, RunContext run, WorkUnit unit, IFileJournal journal, TableState table) : IUnitWriter
    {
        private readonly string _attempt = RandomNumberGenerator.GetHexString(12, lowercase: true);
        private readonly List<StagedFile> _files = [];
        private readonly Dictionary<string, int> _next = new(StringComparer.Ordinal);
        private PartBuffer? _part;

        private PartBuffer Part => _part ??= new PartBuffer(async (part, ct) => _files.AddRange(await owner._writer.WriteAsync(run, unit, part, table, _attempt, _next, journal, ct).ConfigureAwait(false)));

        public Task WriteAsync(FetchedPage page, CancellationToken cancellationToken) => Part.AddAsync(page, cancellationToken);

        private Task FlushAsync(CancellationToken cancellationToken) => Part.FlushAsync(cancellationToken);

        public async Task<Receipt> CompleteAsync(UnitTotals totals, CancellationToken cancellationToken)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            owner._staged[_attempt] = new StagedUnit(unit, _attempt, [.. _files], totals.Records, totals.Checkpoint, table);
            return new Receipt(owner.Name, _files.Select(f => new LandedFile(owner.Name, f.RelativePath, f.Sha256, f.File.SizeBytes)).ToList(), totals.Records, _attempt);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
