using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using Ingot.Sources;
using Ingot.Storage;

namespace Ingot.Destinations;

/// <summary>
/// The raw archive (<c>type: raw</c>): every response body byte for byte, one file per page or split part (a file
/// read in segments stays one file), at <c>&lt;pipeline&gt;/raw/&lt;stream&gt;/&lt;yyyy&gt;/&lt;key&gt;.&lt;ext&gt;</c>, plus one
/// manifest per unit — which is also the lake's own record that the unit landed (run, identity, bounds, files).
/// </summary>
public sealed class RawDestination(IBlobStore store, string name = "raw", TimeProvider? time = null) : IDestination
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public string Name { get; } = name;

    public CommitMode Mode => CommitMode.FileJournal;

    public IBlobStore Store => store;

    public async Task PrepareAsync(RunContext run, CancellationToken cancellationToken) =>
        await store.RemoveStaleTempsAsync($"{run.Pipeline}/raw", cancellationToken).ConfigureAwait(false);

    public static string FilePath(string pipeline, string stream, DateTimeOffset from, string key, string extension = "json") =>
        $"{pipeline}/raw/{stream}/{from.UtcDateTime.Year.ToString("0000", CultureInfo.InvariantCulture)}/{key}.{extension}";

    public static string ManifestFolder(string pipeline, string stream) => $"{pipeline}/raw/{stream}/_manifests/";

    public static string ManifestPath(string pipeline, string stream, string chunkKey) => $"{ManifestFolder(pipeline, stream)}{chunkKey}.json";

    public Task<IUnitWriter> BeginAsync(RunContext run, WorkUnit unit, IFileJournal journal, CancellationToken cancellationToken) =>
        Task.FromResult<IUnitWriter>(new Writer(this, run, unit, journal));

    public async IAsyncEnumerable<LakeUnit> ListCommittedAsync(string pipeline, IReadOnlyCollection<string> streams, bool details, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var stream in streams)
        {
            var folder = ManifestFolder(pipeline, stream);
            await foreach (var blob in store.ListAsync(folder, cancellationToken).ConfigureAwait(false))
            {
                if (!blob.Path.EndsWith(".json", StringComparison.Ordinal) || LocalBlobStore.IsTemp(blob.Path)) continue;
                var key = blob.Path[(blob.Path.LastIndexOf('/') + 1)..^".json".Length];
                if (!details)
                {
                    yield return new LakeUnit(Name, key, stream, null, null, null, 0, []);
                    continue;
                }
                var manifest = await ReadManifestAsync(blob.Path, cancellationToken).ConfigureAwait(false);
                if (manifest is null) continue;
                var bytes = await ReadAllAsync(blob.Path, cancellationToken).ConfigureAwait(false);
                var files = manifest.Files.Select(f => new LandedFile(Name, f.Path, f.Sha256, f.Bytes)).ToList();
                if (bytes is not null) files.Add(new LandedFile(Name, blob.Path, Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length));
                yield return new LakeUnit(Name, manifest.ChunkKey, manifest.Stream, manifest.RunId, manifest.Identity, manifest.Bounds,
                    manifest.Records ?? manifest.Files.Sum(f => (long)f.Records), files)
                { Checkpoint = manifest.Checkpoint };
            }
        }
    }

    public async IAsyncEnumerable<string> ListUnkeptAsync(string pipeline, IReadOnlyCollection<string> streams, IReadOnlySet<string> committed, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var stream in streams)
        {
            await foreach (var blob in store.ListAsync($"{pipeline}/raw/{stream}/", cancellationToken).ConfigureAwait(false))
            {
                if (LocalBlobStore.IsTemp(blob.Path) || committed.Contains(blob.Path)) continue;
                yield return blob.Path;
            }
        }
    }

    private async Task<Manifest?> ReadManifestAsync(string path, CancellationToken cancellationToken)
    {
        var bytes = await ReadAllAsync(path, cancellationToken).ConfigureAwait(false);
        if (bytes is null) return null;
        try
        {
            return JsonSerializer.Deserialize<Manifest>(bytes, ManifestJson.Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{store.Root.TrimEnd('/')}/{path}: not a readable raw manifest ({e.Message})", e);
        }
    }

    private async Task<byte[]?> ReadAllAsync(string path, CancellationToken cancellationToken)
    {
        var stream = await store.OpenReadAsync(path, cancellationToken).ConfigureAwait(false);
        if (stream is null) return null;
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            return buffer.ToArray();
        }
    }

    public Task DeleteAsync(string path, CancellationToken cancellationToken) => store.DeleteAsync(path, cancellationToken);

    public string Where(string pipeline) => $"{store.Root.TrimEnd('/')}/{pipeline}/raw/";

    public Task<string?> HashAsync(string path, CancellationToken cancellationToken) => HashOf(store, path, cancellationToken);

    public static async Task<string?> HashOf(IBlobStore store, string path, CancellationToken cancellationToken)
    {
        var stream = await store.OpenReadAsync(path, cancellationToken).ConfigureAwait(false);
        if (stream is null) return null;
        await using (stream.ConfigureAwait(false))
        {
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// Lands a unit's pages as they arrive. A page is held until the next one shows whether it continues the same raw
    /// file; a unit of one page (the usual case) journals its body and manifest in one state write. A body continued
    /// over several pages streams into a scratch file beside its target and appears by one atomic move.
    /// </summary>
    private sealed class Writer(RawDestination owner, RunContext run, WorkUnit unit, IFileJournal journal) : IUnitWriter
    {
        private readonly List<LandedFile> _landed = [];
        private readonly List<ManifestEntry> _entries = [];
        private readonly HashSet<string> _paths = new(StringComparer.Ordinal);
        private FetchedPage? _held;
        private Spool? _spool;

        private DateTimeOffset From => unit.From ?? run.IngestedAt;

        private string PathOf(FetchedPage page) => FilePath(run.Pipeline, unit.Stream, From, page.Key, page.RawExtension);

        public async Task WriteAsync(FetchedPage page, CancellationToken cancellationToken)
        {
            if (page.ContinuesRaw && (_held is not null || _spool is not null))
            {
                if (_spool is null)
                {
                    _spool = await Spool.StartAsync(owner.Store, PathOf(_held!), _held!, journal, owner.Name, cancellationToken).ConfigureAwait(false);
                    _held = null;
                }
                await _spool.AppendAsync(page, cancellationToken).ConfigureAwait(false);
                return;
            }
            await FlushAsync([], cancellationToken).ConfigureAwait(false);
            var path = PathOf(page);
            // One body, one name: a page key repeated would overwrite an earlier page silently.
            if (!_paths.Add(path)) throw new InvalidOperationException($"unit {unit.Key}: two pages share the key {page.Key}");
            _held = page;
        }

        /// <summary>Writes what is held (a page or a spooled file); <paramref name="alsoJournal"/> joins the same journal write.</summary>
        private async Task FlushAsync(IReadOnlyList<string> alsoJournal, CancellationToken cancellationToken)
        {
            if (_spool is not null)
            {
                if (alsoJournal.Count > 0) await journal.WillWriteAsync(owner.Name, alsoJournal, cancellationToken).ConfigureAwait(false);
                var (file, entry) = await _spool.FinishAsync(owner.Name, cancellationToken).ConfigureAwait(false);
                _landed.Add(file);
                _entries.Add(entry);
                _spool = null;
                return;
            }
            if (_held is { } page)
            {
                var path = PathOf(page);
                await journal.WillWriteAsync(owner.Name, [path, .. alsoJournal], cancellationToken).ConfigureAwait(false);
                var sha = Convert.ToHexStringLower(SHA256.HashData(page.Body.Span));
                await owner.Store.WriteAsync(path, page.Body, cancellationToken).ConfigureAwait(false);
                _landed.Add(new LandedFile(owner.Name, path, sha, page.Body.Length));
                _entries.Add(new ManifestEntry(path, sha, page.Body.Length, page.RedactedRequest, page.Status, page.FetchedAt, page.Records.Count));
                _held = null;
                return;
            }
            if (alsoJournal.Count > 0) await journal.WillWriteAsync(owner.Name, alsoJournal, cancellationToken).ConfigureAwait(false);
        }

        public async Task<Receipt> CompleteAsync(UnitTotals totals, CancellationToken cancellationToken)
        {
            var manifestPath = ManifestPath(run.Pipeline, unit.Stream, unit.Key);
            await FlushAsync([manifestPath], cancellationToken).ConfigureAwait(false);
            var manifest = new Manifest(unit.Key, unit.Stream, run.Pipeline, run.RunId, unit.SourceSystem, _entries)
            {
                Identity = unit.Identity.Text,
                Bounds = unit.Bounds.ToJson(),
                Records = totals.Records + totals.Quarantined,
                Checkpoint = totals.Checkpoint,
                CommittedAt = owner._time.GetUtcNow(),
            };
            var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, ManifestJson.Options);
            await owner.Store.WriteAsync(manifestPath, bytes, cancellationToken).ConfigureAwait(false);
            _landed.Add(new LandedFile(owner.Name, manifestPath, Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length));
            return new Receipt(owner.Name, _landed, totals.Records + totals.Quarantined);
        }

        public ValueTask DisposeAsync()
        {
            _spool?.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A raw body continued over several pages, written to a scratch file beside its target and hashed as it goes.</summary>
    private sealed class Spool : IDisposable
    {
        private readonly IBlobStore _store;
        private readonly string _path;
        private readonly string _scratch;
        private readonly FileStream _file;
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly FetchedPage _first;
        private long _bytes;
        private int _records;

        private Spool(IBlobStore store, string path, string scratch, FetchedPage first)
        {
            _store = store;
            _path = path;
            _scratch = scratch;
            _first = first;
            _file = new FileStream(scratch, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        }

        public static async Task<Spool> StartAsync(IBlobStore store, string path, FetchedPage first, IFileJournal journal, string destination, CancellationToken cancellationToken)
        {
            await journal.WillWriteAsync(destination, [path], cancellationToken).ConfigureAwait(false);
            var scratch = Path.Combine(store.LocalScratchFor(path), $"{LocalBlobStore.TempPrefix}{Path.GetFileName(path)}.{Guid.NewGuid():N}");
            var spool = new Spool(store, path, scratch, first);
            await spool.AppendAsync(first, cancellationToken).ConfigureAwait(false);
            return spool;
        }

        public async Task AppendAsync(FetchedPage page, CancellationToken cancellationToken)
        {
            await _file.WriteAsync(page.Body, cancellationToken).ConfigureAwait(false);
            _sha.AppendData(page.Body.Span);
            _bytes += page.Body.Length;
            _records += page.Records.Count;
        }

        public async Task<(LandedFile File, ManifestEntry Entry)> FinishAsync(string destination, CancellationToken cancellationToken)
        {
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            await _file.DisposeAsync().ConfigureAwait(false);
            var sha = Convert.ToHexStringLower(_sha.GetHashAndReset());
            await _store.PutFileAsync(_path, _scratch, cancellationToken).ConfigureAwait(false);
            return (new LandedFile(destination, _path, sha, _bytes), new ManifestEntry(_path, sha, _bytes, _first.RedactedRequest, _first.Status, _first.FetchedAt, _records));
        }

        public void Dispose()
        {
            _file.Dispose();
            _sha.Dispose();
            try { File.Delete(_scratch); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}

public sealed record ManifestEntry(string Path, string Sha256, long Bytes, string Request, int Status, DateTimeOffset FetchedAt, int Records);

/// <summary>
/// A unit's raw manifest: its files, and — since engine v2 — the run, identity and bounds it was landed with, so that
/// the lake alone can tell which units are committed (<c>ingot state rebuild</c>).
/// </summary>
public sealed record Manifest(string ChunkKey, string Stream, string Pipeline, Guid RunId, string SourceSystem, IReadOnlyList<ManifestEntry> Files)
{
    public string? Identity { get; init; }
    public string? Bounds { get; init; }
    public long? Records { get; init; }
    public string? Checkpoint { get; init; }
    public DateTimeOffset? CommittedAt { get; init; }
}

internal static class ManifestJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };
}
