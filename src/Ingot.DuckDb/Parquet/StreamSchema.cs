using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ingot.DuckDb.Parquet;

/// <summary>A stream's column types changed incompatibly; landing would corrupt the stream, so the chunk fails.</summary>
internal sealed class SchemaDriftException(string stream, string chunk, string column, string established, string incoming)
    : Exception($"column '{column}' of stream '{stream}' is {established}, but chunk '{chunk}' brings {incoming}: " +
                "a LIST column only takes lists of its element type. Fix the source or transforms, or land the data under a new stream.")
{
    public string Stream { get; } = stream;
    public string Chunk { get; } = chunk;
    public string Column { get; } = column;
    public string Established { get; } = established;
    public string Incoming { get; } = incoming;
}

/// <summary>
/// The established column types of one stream, kept in <c>&lt;pipeline&gt;/&lt;stream&gt;/_schema.json</c> with the history of
/// widenings. Immutable; <see cref="Reconcile"/> returns the next version.
/// </summary>
internal sealed class StreamSchema
{
    public const string FileName = "_schema.json";

    private readonly Dictionary<string, ColumnType> _types;

    private StreamSchema(List<KeyValuePair<string, ColumnType>> columns, JsonArray changes)
    {
        Columns = columns;
        Changes = changes;
        _types = new Dictionary<string, ColumnType>(StringComparer.Ordinal);
        foreach (var (name, type) in columns) _types[name] = type;
    }

    public static StreamSchema Empty { get; } = new([], []);

    /// <summary>Columns in the order they were first landed.</summary>
    public IReadOnlyList<KeyValuePair<string, ColumnType>> Columns { get; }

    private JsonArray Changes { get; }

    public ColumnType? TypeOf(string column) => _types.TryGetValue(column, out var t) ? t : null;

    /// <summary>
    /// Types for a chunk's columns. Returns the types to write with and, when the stream's schema changed (new columns
    /// or widenings), the new schema to persist; throws <see cref="SchemaDriftException"/> on an incompatible change.
    /// </summary>
    public (ColumnType[] Types, StreamSchema? Changed) Reconcile(
        string stream, string chunkKey, Guid runId, DateTimeOffset at, IReadOnlyList<string> names, IReadOnlyList<ColumnType> incoming)
    {
        var types = new ColumnType[names.Count];
        List<KeyValuePair<string, ColumnType>>? columns = null;
        JsonArray? changes = null;
        for (var i = 0; i < names.Count; i++)
        {
            var name = names[i];
            var chunkType = incoming[i];
            if (!_types.TryGetValue(name, out var established))
            {
                // A column seen only as nulls has no type yet: write it as VARCHAR, establish it later.
                types[i] = chunkType switch { ColumnType.Unknown => ColumnType.Varchar, ColumnType.EmptyList => ColumnType.VarcharList, _ => chunkType };
                if (chunkType == ColumnType.Unknown) continue;
                columns ??= [.. Columns];
                columns.Add(new(name, types[i]));
                continue;
            }
            var reconciled = ColumnTypes.Reconcile(established, chunkType)
                ?? throw new SchemaDriftException(stream, chunkKey, name, established.Sql(), chunkType.Sql());
            types[i] = reconciled;
            if (reconciled == established) continue;
            columns ??= [.. Columns];
            columns[columns.FindIndex(c => c.Key == name)] = new(name, reconciled);
            changes ??= (JsonArray)Changes.DeepClone();
            changes.Add(new JsonObject
            {
                ["column"] = name,
                ["from"] = established.Sql(),
                ["to"] = reconciled.Sql(),
                ["chunk"] = chunkKey,
                ["run_id"] = runId.ToString(),
                ["at"] = at.ToUniversalTime().ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            });
        }
        if (columns is null) return (types, null);
        return (types, new StreamSchema(columns, changes ?? (JsonArray)Changes.DeepClone()));
    }

    public byte[] ToJson()
    {
        var columns = new JsonArray();
        foreach (var (name, type) in Columns) columns.Add(new JsonObject { ["name"] = name, ["type"] = type.Sql() });
        var doc = new JsonObject { ["version"] = 1, ["columns"] = columns, ["changes"] = Changes.DeepClone() };
        return JsonSerializer.SerializeToUtf8Bytes(doc, new JsonSerializerOptions { WriteIndented = true });
    }

    public static StreamSchema Parse(ReadOnlySpan<byte> json)
    {
        var doc = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException("a stream schema must be a JSON object");
        var columns = new List<KeyValuePair<string, ColumnType>>();
        foreach (var column in doc["columns"]?.AsArray() ?? [])
        {
            var name = column?["name"]?.GetValue<string>() ?? throw new InvalidDataException("a schema column without a name");
            var type = column["type"]?.GetValue<string>() ?? throw new InvalidDataException($"schema column '{name}' without a type");
            columns.Add(new(name, ColumnTypes.Parse(type)));
        }
        var changes = doc["changes"] is JsonArray c ? (JsonArray)c.DeepClone() : [];
        return new StreamSchema(columns, changes);
    }
}
