using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ingot.Destinations;
using Ingot.Records;
using Ingot.State;
using Ingot.Storage;

namespace Ingot.Sources.Files;

/// <summary>
/// The files source: every file under the folder that matches the pattern is a unit keyed by its path and content hash.
/// A file landed before with the same content is the same unit (skipped); a changed file is a new unit (a new version
/// lands); a file that does not parse fails its own unit with file and line. Records stream in batches (memory bounded
/// by a batch, never by the file); the raw archive gets the file's bytes as one file.
/// </summary>
public sealed class FilesSource(FilesSourceSpec spec, IBlobStore store, TimeProvider time) : ISource
{
    /// <summary>Records per page.</summary>
    internal const int BatchRecords = 10_000;

    private readonly Regex _pattern = Glob(spec.Pattern);

    public string Name => spec.Name;

    public string SourceSystem => "files";

    public IReadOnlyList<string> Streams => spec.Streams;

    /// <summary>What decides the records read from a file beside its content.</summary>
    internal UnitIdentity Identity { get; } = UnitIdentity.Of(
        ("source", "files"), ("format", spec.Format?.ToString().ToLowerInvariant() ?? "by extension"),
        ("csv", $"delimiter={(int)spec.Csv.Delimiter},header={spec.Csv.Header},encoding={spec.Csv.Encoding}"), ("event_time", spec.EventTime ?? ""));

    public async Task<SourcePlan> PlanAsync(PlanRequest request, CancellationToken cancellationToken)
    {
        if (!request.Wants(spec.Stream)) return new SourcePlan([], [], new Dictionary<string, object>());
        var landedBefore = request.Known.Values.Any(k => k.Stream == spec.Stream && k.Status == ChunkStatus.Done);
        var loadType = request.FullRefresh || !landedBefore ? LoadType.Full : LoadType.Incremental;
        var units = new List<WorkUnit>();
        long bytes = 0;
        await foreach (var blob in store.ListAsync("", cancellationToken).ConfigureAwait(false))
        {
            if (LocalBlobStore.IsTemp(blob.Path) || !_pattern.IsMatch(blob.Path)) continue;
            if ((spec.Format ?? FileFormat.FromExtension(blob.Path)) is null) continue;
            var hash = await HashAsync(blob.Path, cancellationToken).ConfigureAwait(false);
            if (hash is null) continue; // gone between listing and reading
            units.Add(new WorkUnit(KeyFor(blob.Path, hash), spec.Stream, spec.Name, SourceSystem, new FileBounds(blob.Path, hash, blob.Length), Identity, loadType));
            bytes += blob.Length;
        }
        var scope = new Dictionary<string, object> { ["path"] = store.Root, ["pattern"] = spec.Pattern, ["files"] = units.Count, ["bytes"] = bytes };
        return new SourcePlan(units, [new StreamPlan(spec.Stream, spec.Name, loadType, null)], scope);
    }

    /// <summary><c>exports_2024_toggl.csv-1a2b3c4d5e6f</c>: the path made safe, and the first 12 hex digits of the content's sha256.</summary>
    internal static string KeyFor(string path, string sha256)
    {
        var safe = ChunkKeys.Safe(path.Replace('/', '_'));
        if (safe.Length > 120) safe = $"{safe[..80]}+{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(path)))[..8]}";
        return $"{safe}-{sha256[..12]}";
    }

    private async Task<string?> HashAsync(string path, CancellationToken cancellationToken)
    {
        var content = await store.OpenReadAsync(path, cancellationToken).ConfigureAwait(false);
        if (content is null) return null;
        await using (content.ConfigureAwait(false))
        {
            return Convert.ToHexStringLower(await SHA256.HashDataAsync(content, cancellationToken).ConfigureAwait(false));
        }
    }

    public async IAsyncEnumerable<FetchedPage> FetchAsync(WorkUnit unit, IUnitContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var file = unit.Bounds as FileBounds ?? throw new ArgumentException($"unit {unit.Key} is not a file", nameof(unit));
        var format = spec.Format ?? FileFormat.FromExtension(file.Path) ?? throw new InvalidDataException($"{file.Path}: no format given and none known for its extension");
        var csv = format == FileFormat.Csv && spec.Format is null && file.Path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase) && spec.Csv.Delimiter == ','
            ? spec.Csv with { Delimiter = '\t' }
            : spec.Csv;
        var content = await store.OpenReadAsync(file.Path, cancellationToken).ConfigureAwait(false)
            ?? throw new IOException($"{file.Path}: the file is gone since planning");
        var display = $"{store.Root.TrimEnd('/')}/{file.Path}";
        var extension = Path.GetExtension(file.Path).TrimStart('.') is { Length: > 0 } ext ? ChunkKeys.Safe(ext.ToLowerInvariant()) : "dat";
        var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using (content.ConfigureAwait(false))
        using (sha)
        {
            var first = true;
            await foreach (var batch in FileRecordReader.ReadAsync(content, format, csv, display, BatchRecords, cancellationToken).ConfigureAwait(false))
            {
                sha.AppendData(batch.Raw.Span);
                var records = spec.EventTime is null ? batch.Records : WithEventTime(batch, display);
                yield return new FetchedPage(unit.Key, batch.Raw, $"FILE {display}", 200, time.GetUtcNow(), records)
                {
                    ContinuesRaw = !first,
                    RawExtension = extension,
                };
                first = false;
            }
            // The content read must be the content planned: a file replaced in between would land under the wrong key.
            if (Convert.ToHexStringLower(sha.GetHashAndReset()) != file.ContentHash)
                throw new IOException($"{display}: the file changed while it was read; it lands again as a new version at the next run");
        }
    }

    private List<Record> WithEventTime(FileBatch batch, string display)
    {
        var list = new List<Record>(batch.Records.Count);
        for (var i = 0; i < batch.Records.Count; i++)
        {
            var record = batch.Records[i];
            DateTimeOffset? ts = null;
            if (record.TryGetUtf8(out var utf8))
            {
                using var doc = JsonDocument.Parse(utf8);
                if (doc.RootElement.TryGetProperty(spec.EventTime!, out var v) && v.ValueKind == JsonValueKind.String && !string.IsNullOrEmpty(v.GetString()))
                {
                    if (!Config.Values.TryInstant(v.GetString()!, out var t) && !DateTimeOffset.TryParse(v.GetString(), System.Globalization.CultureInfo.InvariantCulture,
                            System.Globalization.DateTimeStyles.AssumeUniversal, out t))
                        throw new FileParseException(display, batch.Lines[i], $"event_time field '{spec.EventTime}' holds '{v.GetString()}', which is not a time");
                    ts = t.ToUniversalTime();
                }
                list.Add(Record.FromUtf8(utf8, ts, record.Line));
            }
            else
            {
                list.Add(record);
            }
        }
        return list;
    }

    /// <summary>A glob as a regex over '/'-separated paths: <c>**</c> any folders, <c>*</c> within a name, <c>?</c> one character.</summary>
    internal static Regex Glob(string pattern)
    {
        var sb = new StringBuilder("^");
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                i++;
                if (i + 1 < pattern.Length && pattern[i + 1] == '/') { i++; sb.Append("(?:.*/)?"); }
                else sb.Append(".*");
            }
            else if (c == '*') sb.Append("[^/]*");
            else if (c == '?') sb.Append("[^/]");
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return new Regex(sb.Append('$').ToString(), RegexOptions.CultureInvariant);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
