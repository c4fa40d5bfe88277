using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Ingot.Storage;

namespace Ingot.Destinations;

/// <summary>
/// Invalid records with their reasons, one file per chunk at <c>&lt;pipeline&gt;/_quarantine/&lt;stream&gt;/&lt;chunk-key&gt;.jsonl</c>
/// (each line carries the run id). Per chunk rather than per run so that the quarantine, like every destination,
/// holds each invalid record of a completed chunk exactly once: a refresh replaces the chunk's file in the same commit.
/// </summary>
public sealed class QuarantineDestination(IBlobStore store) : IDestination
{
    private static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string Name => "quarantine";

    public static string PathFor(string pipeline, string stream, string chunkKey) => $"{pipeline}/_quarantine/{stream}/{chunkKey}.jsonl";

    public Task PrepareAsync(RunContext run, CancellationToken cancellationToken) => store.RemoveStaleTempsAsync($"{run.Pipeline}/_quarantine", cancellationToken);

    public async Task<IReadOnlyList<LandedFile>> LandAsync(RunContext run, ChunkData chunk, IFileJournal journal, CancellationToken cancellationToken)
    {
        if (chunk.Quarantine.Count == 0) return [];
        var text = new StringBuilder();
        foreach (var q in chunk.Quarantine)
        {
            text.Append(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["run_id"] = run.RunId,
                ["chunk_key"] = chunk.ChunkKey,
                ["page"] = q.PageKey,
                ["errors"] = q.Errors,
                ["record_hash"] = q.Record.Hash(),
                ["event_ts"] = q.Record.EventTs,
                ["record"] = q.Record.Fields,
            }, Options)).Append('\n');
        }
        var path = PathFor(run.Pipeline, chunk.Stream, chunk.ChunkKey);
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        await journal.WillWriteAsync(Name, path, cancellationToken).ConfigureAwait(false);
        await store.WriteAsync(path, bytes, cancellationToken).ConfigureAwait(false);
        return [new LandedFile(Name, path, Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length)];
    }

    public Task DeleteAsync(string path, CancellationToken cancellationToken) => store.DeleteAsync(path, cancellationToken);

    public string Where(string pipeline) => $"{store.Root.TrimEnd('/')}/{pipeline}/_quarantine/";

    public Task<string?> HashAsync(string path, CancellationToken cancellationToken) => RawDestination.HashOf(store, path, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
