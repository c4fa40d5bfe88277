using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Ingot.Sources;
using Ingot.Storage;

namespace Ingot.Destinations;

/// <summary>
/// Invalid records with their reasons, one file per unit at <c>&lt;pipeline&gt;/_quarantine/&lt;stream&gt;/&lt;chunk-key&gt;.jsonl</c>
/// (each line carries the run id). Per unit rather than per run so that the quarantine, like every destination,
/// holds each invalid record of a completed unit exactly once: a refresh replaces the unit's file in the same commit.
/// </summary>
public sealed class QuarantineDestination(IBlobStore store) : IDestination
{
    private static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string Name => "quarantine";

    public CommitMode Mode => CommitMode.FileJournal;

    /// <summary>Only units with invalid records have a quarantine file.</summary>
    public bool HoldsEveryUnit => false;

    public static string PathFor(string pipeline, string stream, string chunkKey) => $"{pipeline}/_quarantine/{stream}/{chunkKey}.jsonl";

    public Task ProbeAsync(string pipeline, CancellationToken cancellationToken) => StoreProbe.ProbeAsync(store, $"{pipeline}/_quarantine", cancellationToken);

    public Task PrepareAsync(RunContext run, CancellationToken cancellationToken) => store.RemoveStaleTempsAsync($"{run.Pipeline}/_quarantine", cancellationToken);

    public Task<IUnitWriter> BeginAsync(RunContext run, WorkUnit unit, IFileJournal journal, CancellationToken cancellationToken) =>
        Task.FromResult<IUnitWriter>(new Writer(store, run, unit, journal));

    public async IAsyncEnumerable<LakeUnit> ListCommittedAsync(string pipeline, IReadOnlyCollection<string> streams, bool details, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var stream in streams)
        {
            await foreach (var blob in store.ListAsync($"{pipeline}/_quarantine/{stream}/", cancellationToken).ConfigureAwait(false))
            {
                if (!blob.Path.EndsWith(".jsonl", StringComparison.Ordinal) || LocalBlobStore.IsTemp(blob.Path)) continue;
                var key = blob.Path[(blob.Path.LastIndexOf('/') + 1)..^".jsonl".Length];
                var files = details && await HashAsync(blob.Path, cancellationToken).ConfigureAwait(false) is { } sha
                    ? new[] { new LandedFile(Name, blob.Path, sha, blob.Length) }
                    : [];
                yield return new LakeUnit(Name, key, stream, null, null, null, 0, files);
            }
        }
    }

    public Task DeleteAsync(string path, CancellationToken cancellationToken) => store.DeleteAsync(path, cancellationToken);

    public string Where(string pipeline) => $"{store.Root.TrimEnd('/')}/{pipeline}/_quarantine/";

    public Task<string?> HashAsync(string path, CancellationToken cancellationToken) => RawDestination.HashOf(store, path, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private sealed class Writer(IBlobStore store, RunContext run, WorkUnit unit, IFileJournal journal) : IUnitWriter
    {
        private readonly StringBuilder _text = new();

        public Task WriteAsync(FetchedPage page, CancellationToken cancellationToken)
        {
            foreach (var q in page.Quarantine)
            {
                _text.Append(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["run_id"] = run.RunId,
                    ["chunk_key"] = unit.Key,
                    ["page"] = q.PageKey,
                    ["errors"] = q.Errors,
                    ["record_hash"] = q.Record.Hash(),
                    ["event_ts"] = q.Record.EventTs,
                    ["record"] = q.Record.Fields,
                }, Options)).Append('\n');
            }
            return Task.CompletedTask;
        }

        public async Task<Receipt> CompleteAsync(UnitTotals totals, CancellationToken cancellationToken)
        {
            if (_text.Length == 0) return Receipt.Empty("quarantine");
            var path = PathFor(run.Pipeline, unit.Stream, unit.Key);
            var bytes = Encoding.UTF8.GetBytes(_text.ToString());
            await journal.WillWriteAsync("quarantine", [path], cancellationToken).ConfigureAwait(false);
            await store.WriteAsync(path, bytes, cancellationToken).ConfigureAwait(false);
            return new Receipt("quarantine", [new LandedFile("quarantine", path, Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length)], totals.Quarantined);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
