using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ingot.Destinations;
using Ingot.Records;
using Ingot.Sources;
using Ingot.Storage;

namespace Ingot.DuckDb.Parquet;

/// <summary>
/// Units as the Parquet destination lands and remembers them: records gather over a unit's pages up to a part's size
/// (memory bounded by a part, not by the unit), each part lands as its own files, and the unit's record
/// <c>&lt;pipeline&gt;/&lt;stream&gt;/_units/&lt;chunk-key&gt;.json</c> (run, identity, bounds, files with sha256) is written last — the
/// lake's own record that the unit committed. Readers skip <c>_</c> folders, as Hive and Spark do.
/// </summary>
internal sealed partial class ParquetDestination
{
    /// <summary>Records per part: a unit larger than this (a big file, a long table page) lands in several parts.</summary>
    internal const int PartRecords = 250_000;

    /// <summary>UTF-8 bytes per part, whichever comes first.</summary>
    internal const long PartBytes = 256L << 20;

    public static string UnitFolder(string pipeline, string stream) => $"{pipeline}/{stream}/_units/";

    public Task<IUnitWriter> BeginAsync(RunContext run, WorkUnit unit, IFileJournal journal, CancellationToken cancellationToken)
    {
        RequireSafeSegment(unit.Stream, "stream name");
        RequireSafeSegment(unit.Key, "chunk key");
        return Task.FromResult<IUnitWriter>(new Writer(this, run, unit, journal));
    }

    public async IAsyncEnumerable<LakeUnit> ListCommittedAsync(string pipeline, IReadOnlyCollection<string> streams, bool details, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var stream in streams)
        {
            await foreach (var blob in _store.ListAsync(UnitFolder(pipeline, stream), cancellationToken).ConfigureAwait(false))
            {
                if (!blob.Path.EndsWith(".json", StringComparison.Ordinal) || LocalBlobStore.IsTemp(blob.Path)) continue;
                var key = blob.Path[(blob.Path.LastIndexOf('/') + 1)..^".json".Length];
                if (!details)
                {
                    yield return new LakeUnit(Name, key, stream, null, null, null, 0, []);
                    continue;
                }
                var stream2 = await _store.OpenReadAsync(blob.Path, cancellationToken).ConfigureAwait(false);
                if (stream2 is null) continue;
                byte[] bytes;
                await using (stream2.ConfigureAwait(false))
                {
                    using var buffer = new MemoryStream();
                    await stream2.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
                    bytes = buffer.ToArray();
                }
                UnitRecord record;
                try
                {
                    record = JsonSerializer.Deserialize(bytes, UnitJson.Default.UnitRecord) ?? throw new JsonException("empty");
                }
                catch (JsonException e)
                {
                    throw new InvalidDataException($"{_store.Root.TrimEnd('/')}/{blob.Path}: not a readable unit record ({e.Message})", e);
                }
                var files = record.Files.Select(f => new LandedFile(Name, f.Path, f.Sha256, f.Bytes)).ToList();
                files.Add(new LandedFile(Name, blob.Path, Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length));
                yield return new LakeUnit(Name, record.ChunkKey, record.Stream, record.RunId, record.Identity, record.Bounds, record.Records, files) { Checkpoint = record.Checkpoint };
            }
        }
    }

    public async IAsyncEnumerable<string> ListUnkeptAsync(string pipeline, IReadOnlyCollection<string> streams, IReadOnlySet<string> committed, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var stream in streams)
        {
            await foreach (var blob in _store.ListAsync($"{pipeline}/{stream}/", cancellationToken).ConfigureAwait(false))
            {
                if (LocalBlobStore.IsTemp(blob.Path) || !blob.Path.EndsWith(".parquet", StringComparison.Ordinal) || committed.Contains(blob.Path)) continue;
                yield return blob.Path;
            }
        }
    }

    internal sealed record UnitFile(string Path, string Sha256, long Bytes);

    internal sealed record UnitRecord(string ChunkKey, string Stream, string Pipeline, Guid RunId, string SourceSystem, string? Identity, string? Bounds, long Records,
        DateTimeOffset CommittedAt, IReadOnlyList<UnitFile> Files)
    {
        public string? Checkpoint { get; init; }
    }

    private sealed class Writer(ParquetDestination owner, RunContext run, WorkUnit unit, IFileJournal journal) : IUnitWriter
    {
        private readonly List<LandedFile> _landed = [];
        private readonly Dictionary<string, int> _next = new(StringComparer.Ordinal);
        private PartBuffer? _part;

        private PartBuffer Part => _part ??= new PartBuffer(async (part, ct) => _landed.AddRange(await owner.LandPartAsync(run, unit, part, _next, journal, ct).ConfigureAwait(false)));

        public Task WriteAsync(FetchedPage page, CancellationToken cancellationToken) => Part.AddAsync(page, cancellationToken);

        private Task FlushAsync(CancellationToken cancellationToken) => Part.FlushAsync(cancellationToken);

        public async Task<Receipt> CompleteAsync(UnitTotals totals, CancellationToken cancellationToken)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
            var path = $"{UnitFolder(owner._pipeline, unit.Stream)}{unit.Key}.json";
            var record = new UnitRecord(unit.Key, unit.Stream, run.Pipeline, run.RunId, unit.SourceSystem, unit.Identity.Text, unit.Bounds.ToJson(), totals.Records,
                run.IngestedAt, _landed.Select(f => new UnitFile(f.Path, f.Sha256, f.Bytes)).ToList())
            { Checkpoint = totals.Checkpoint };
            var bytes = JsonSerializer.SerializeToUtf8Bytes(record, UnitJson.Default.UnitRecord);
            await journal.WillWriteAsync(owner.Name, [path], cancellationToken).ConfigureAwait(false);
            await owner._store.WriteAsync(path, bytes, cancellationToken).ConfigureAwait(false);
            return new Receipt(owner.Name, [.. _landed, new LandedFile(owner.Name, path, Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length)], totals.Records);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>
/// Unit records by the source generator: one is written per landed unit, and the reflection serializer's first use
/// (its converter set built and compiled) cost the first unit ~50–90 ms measured on the Parquet bench.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(ParquetDestination.UnitRecord))]
internal sealed partial class UnitJson : JsonSerializerContext;
