using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Ingot.Storage;

namespace Ingot.Destinations;

/// <summary>
/// The raw archive (<c>type: raw</c>): every response body byte for byte, one file per page or split part, at
/// <c>&lt;pipeline&gt;/raw/&lt;stream&gt;/&lt;yyyy&gt;/&lt;key&gt;.json</c>, plus one manifest per chunk.
/// </summary>
public sealed class RawDestination(IBlobStore store, string name = "raw") : IDestination
{
    public string Name { get; } = name;

    public IBlobStore Store => store;

    public async Task PrepareAsync(RunContext run, CancellationToken cancellationToken) =>
        await store.RemoveStaleTempsAsync($"{run.Pipeline}/raw", cancellationToken).ConfigureAwait(false);

    public static string FilePath(string pipeline, string stream, DateTimeOffset from, string key) =>
        $"{pipeline}/raw/{stream}/{from.UtcDateTime.Year.ToString("0000", CultureInfo.InvariantCulture)}/{key}.json";

    public static string ManifestPath(string pipeline, string stream, string chunkKey) => $"{pipeline}/raw/{stream}/_manifests/{chunkKey}.json";

    public async Task<IReadOnlyList<LandedFile>> LandAsync(RunContext run, ChunkData chunk, IFileJournal journal, CancellationToken cancellationToken)
    {
        var landed = new List<LandedFile>();
        var entries = new List<ManifestEntry>();
        var paths = chunk.Pages.Select(p => FilePath(run.Pipeline, chunk.Stream, chunk.From, p.Key)).ToList();
        // One body, one name: a page key repeated would overwrite an earlier page silently.
        if (paths.Distinct(StringComparer.Ordinal).Count() != paths.Count) throw new InvalidOperationException($"chunk {chunk.ChunkKey}: two pages share a key");
        var manifestPath = ManifestPath(run.Pipeline, chunk.Stream, chunk.ChunkKey);
        await journal.WillWriteAsync(Name, [.. paths, manifestPath], cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < chunk.Pages.Count; i++)
        {
            var page = chunk.Pages[i];
            var path = paths[i];
            var sha = Convert.ToHexStringLower(SHA256.HashData(page.Body.Span));
            await store.WriteAsync(path, page.Body, cancellationToken).ConfigureAwait(false);
            landed.Add(new LandedFile(Name, path, sha, page.Body.Length));
            entries.Add(new ManifestEntry(path, sha, page.Body.Length, page.RedactedRequest, page.Status, page.FetchedAt, page.Records.Count));
        }
        var manifest = new Manifest(chunk.ChunkKey, chunk.Stream, run.Pipeline, run.RunId, run.SourceSystem, entries);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, ManifestJson.Options);
        await store.WriteAsync(manifestPath, bytes, cancellationToken).ConfigureAwait(false);
        landed.Add(new LandedFile(Name, manifestPath, Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length));
        return landed;
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
}

public sealed record ManifestEntry(string Path, string Sha256, long Bytes, string Request, int Status, DateTimeOffset FetchedAt, int Records);

public sealed record Manifest(string ChunkKey, string Stream, string Pipeline, Guid RunId, string SourceSystem, IReadOnlyList<ManifestEntry> Files);

internal static class ManifestJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };
}
