using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Ingot.Destinations;

namespace Ingot.Sources;

/// <summary>
/// What a unit of work covers: a time window (KNMI, NOAA), a cursor range (database and API streams), or a file.
/// Stored with the unit in the state store, so that planning, <c>verify</c> and <c>state rebuild</c> can reason about
/// overlaps without the source.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(TimeWindowBounds), "window")]
[JsonDerivedType(typeof(CursorBounds), "cursor")]
[JsonDerivedType(typeof(FileBounds), "file")]
public abstract record UnitBounds
{
    /// <summary>True when a record could belong to both units (the same source record landed twice).</summary>
    public virtual bool Overlaps(UnitBounds other) => false;

    public string ToJson() => JsonSerializer.Serialize(this, BoundsJson.Default.UnitBounds);

    public static UnitBounds? FromJson(string? json) =>
        string.IsNullOrEmpty(json) ? null : JsonSerializer.Deserialize(json, BoundsJson.Default.UnitBounds);
}

/// <summary><c>[From, To)</c> of a station group; <see cref="GridTo"/> is the window's end on the plan's grid (<see cref="To"/> is smaller only for a window cut short by the range's end).</summary>
public sealed record TimeWindowBounds(DateTimeOffset From, DateTimeOffset To, DateTimeOffset GridTo, IReadOnlyList<string> Stations) : UnitBounds
{
    public override bool Overlaps(UnitBounds other) =>
        other is TimeWindowBounds o && From < o.To && o.From < To && (Stations.Count == 0 || o.Stations.Count == 0 || Stations.Intersect(o.Stations, StringComparer.Ordinal).Any());
}

/// <summary>A keyset page of a cursor stream: rows after <see cref="After"/> (JSON of cursor + primary key), up to <see cref="UpTo"/> when known.</summary>
public sealed record CursorBounds(string? After, string? UpTo) : UnitBounds;

/// <summary>One file version: its path under the source and the sha256 of its content.</summary>
public sealed record FileBounds(string Path, string ContentHash, long Bytes) : UnitBounds;

/// <summary>
/// Bounds as stored with each unit, by the source generator: every planned unit is serialized before the first request,
/// and the reflection serializer's first use costs ~50 ms of start-up (converter set built and JIT-compiled).
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(UnitBounds))]
internal sealed partial class BoundsJson : JsonSerializerContext;

/// <summary>
/// The configuration that decides what a unit fetches (parameters, collection, query, CSV dialect, …), as a flat
/// name → value map. Part of a unit's identity: a landed unit whose identity differs from today's plan was fetched
/// with another shape, and the engine refuses to mix or duplicate it.
/// </summary>
public sealed class UnitIdentity
{
    private UnitIdentity(SortedDictionary<string, string> settings)
    {
        Settings = settings;
        var obj = new JsonObject();
        foreach (var (k, v) in settings) obj[k] = v;
        Text = obj.ToJsonString();
        Fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Text)))[..16];
    }

    public IReadOnlyDictionary<string, string> Settings { get; }

    /// <summary>Canonical JSON (keys sorted), as stored with the unit.</summary>
    public string Text { get; }

    public string Fingerprint { get; }

    public static UnitIdentity Of(params (string Name, string Value)[] settings)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (n, v) in settings) map[n] = v;
        return new UnitIdentity(map);
    }

    public static UnitIdentity Of(IEnumerable<KeyValuePair<string, string>> settings)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (n, v) in settings) map[n] = v;
        return new UnitIdentity(map);
    }

    public static UnitIdentity? Parse(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in JsonNode.Parse(text)!.AsObject()) map[k] = v?.GetValue<string>() ?? "";
        return new UnitIdentity(map);
    }

    /// <summary>What changed between <paramref name="before"/> and this identity, for people: <c>parameters: TG,TN → TG,TN,TX</c>.</summary>
    public IReadOnlyList<string> DiffFrom(UnitIdentity before)
    {
        var changes = new List<string>();
        foreach (var name in before.Settings.Keys.Union(Settings.Keys).Order(StringComparer.Ordinal))
        {
            var was = before.Settings.GetValueOrDefault(name);
            var now = Settings.GetValueOrDefault(name);
            if (was != now) changes.Add($"{name}: {was ?? "(unset)"} → {now ?? "(unset)"}");
        }
        return changes;
    }

    public override string ToString() => Text;
}

/// <summary>
/// One unit of work: a deterministic key (same plan and same checkpoint, same key; safe as a file name), the stream it
/// belongs to, what it covers and the configuration it is fetched with. <see cref="Replaces"/> names landed units of
/// an older configuration that this unit supersedes (retired in the same state transaction as its commit).
/// </summary>
public sealed record WorkUnit(
    string Key,
    string Stream,
    string SourceName,
    string SourceSystem,
    UnitBounds Bounds,
    UnitIdentity Identity,
    LoadType LoadType = LoadType.Incremental,
    long DataPoints = 0,
    int EstimatedRequests = 1)
{
    public IReadOnlyList<string> Replaces { get; init; } = [];

    /// <summary>
    /// Cursor streams (<see cref="CursorBounds"/>): the checkpoint the stream may move to once this unit and every unit
    /// planned before it for the stream in this run are done — e.g. a keyset page's upper cursor, already bounded by
    /// what is certainly committed. Null: the unit's last page says (<see cref="Destinations.FetchedPage.Cursor"/>).
    /// The engine moves the checkpoint in the same state transaction as the unit that completes the done prefix.
    /// </summary>
    public string? Checkpoint { get; init; }

    /// <summary>
    /// Kept with <see cref="Checkpoint"/> when it moves and handed back to the next plan in
    /// <see cref="State.Watermark.Memo"/>: what the source needs to continue exactly (a PostgreSQL snapshot fence, the
    /// keys landed inside a REST look-back window). Null: the last page's <see cref="Destinations.FetchedPage.CursorMemo"/>.
    /// </summary>
    public string? CheckpointMemo { get; init; }

    /// <summary>The time window, for time-windowed sources.</summary>
    public TimeWindowBounds? Window => Bounds as TimeWindowBounds;

    /// <summary>Where the unit's data starts in time (for the raw archive's year folders); the ingestion time when the unit has no time bounds.</summary>
    public DateTimeOffset? From => Window?.From;
}
