using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ingot.Iceberg.Table;

/// <summary>
/// A v2 table metadata file (spec §Table Metadata, notes/iceberg.md §1), kept as the JSON it was read from so fields
/// written by other engines survive Ingot's commits. Immutable: <see cref="Create"/> and <see cref="Commit"/> return new ones.
/// </summary>
internal sealed class TableMetadata
{
    private readonly JsonObject _json;

    private TableMetadata(JsonObject json) => _json = json;

    public static TableMetadata Parse(ReadOnlySpan<byte> utf8, string where)
    {
        var json = JsonNode.Parse(utf8) as JsonObject ?? throw new InvalidDataException($"{where}: not a table metadata object");
        var version = json["format-version"]?.GetValue<int>() ?? 1;
        if (version != 2) throw new InvalidDataException($"{where}: format version {version}; Ingot writes Iceberg v2 tables only");
        return new TableMetadata(json);
    }

    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(_json, new JsonSerializerOptions { WriteIndented = true });

    public string TableUuid => _json["table-uuid"]!.GetValue<string>();
    public string Location => _json["location"]!.GetValue<string>();
    public long LastSequenceNumber => _json["last-sequence-number"]?.GetValue<long>() ?? 0;
    public int LastColumnId => _json["last-column-id"]!.GetValue<int>();
    public long LastUpdatedMs => _json["last-updated-ms"]!.GetValue<long>();
    public int DefaultSpecId => _json["default-spec-id"]?.GetValue<int>() ?? 0;
    public IReadOnlyDictionary<string, string> Properties =>
        (_json["properties"] as JsonObject)?.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? "", StringComparer.Ordinal) ?? new Dictionary<string, string>();

    public long? CurrentSnapshotId => _json["current-snapshot-id"]?.GetValue<long>() is { } id && id >= 0 ? id : null;

    public IcebergSchema CurrentSchema
    {
        get
        {
            var id = _json["current-schema-id"]!.GetValue<int>();
            var node = _json["schemas"]!.AsArray().FirstOrDefault(s => s!["schema-id"]!.GetValue<int>() == id)
                ?? throw new InvalidDataException($"table metadata: current schema {id} is not among the schemas");
            return IcebergSchema.FromJson(node);
        }
    }

    /// <summary>The default partition spec's fields, typed by their source columns in the current schema.</summary>
    public IReadOnlyList<PartitionField> DefaultSpec
    {
        get
        {
            var spec = _json["partition-specs"]!.AsArray().First(s => s!["spec-id"]!.GetValue<int>() == DefaultSpecId)!;
            var schema = CurrentSchema;
            return spec["fields"]!.AsArray().Select(f =>
            {
                var source = f!["source-id"]!.GetValue<int>();
                var type = schema.Fields.FirstOrDefault(x => x.Id == source)?.Type ?? "unknown";
                return new PartitionField(source, f["field-id"]!.GetValue<int>(), f["name"]!.GetValue<string>(), f["transform"]!.GetValue<string>(), type);
            }).ToList();
        }
    }

    public IEnumerable<JsonObject> Snapshots => (_json["snapshots"] as JsonArray)?.OfType<JsonObject>() ?? [];

    public JsonObject? Snapshot(long id) => Snapshots.FirstOrDefault(s => s["snapshot-id"]!.GetValue<long>() == id);

    /// <summary>The current snapshot and its ancestors, newest first (what the main branch holds).</summary>
    public IEnumerable<JsonObject> Ancestry()
    {
        var seen = new HashSet<long>();
        var id = CurrentSnapshotId;
        while (id is { } s && seen.Add(s) && Snapshot(s) is { } snapshot)
        {
            yield return snapshot;
            id = snapshot["parent-snapshot-id"]?.GetValue<long>();
        }
    }

    /// <summary>The version number in the file name of a metadata location (<c>00007-….metadata.json</c> → 7), else the log's length.</summary>
    public int VersionOf(string location)
    {
        var name = location[(location.LastIndexOf('/') + 1)..];
        if (name.StartsWith('v')) name = name[1..];
        var digits = new string(name.TakeWhile(char.IsAsciiDigit).ToArray());
        return digits.Length > 0 && int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : (_json["metadata-log"] as JsonArray)?.Count ?? 0;
    }

    /// <summary>A new, empty v2 table: its schema, its partition spec (id 0), unsorted, no snapshot yet.</summary>
    public static TableMetadata Create(string location, IcebergSchema schema, int lastColumnId, IReadOnlyList<PartitionField> spec, long nowMs)
    {
        var fields = new JsonArray();
        foreach (var p in spec) fields.Add(p.ToJson());
        var json = new JsonObject
        {
            ["format-version"] = 2,
            ["table-uuid"] = Guid.NewGuid().ToString("D"),
            ["location"] = location,
            ["last-sequence-number"] = 0L,
            ["last-updated-ms"] = nowMs,
            ["last-column-id"] = lastColumnId,
            ["current-schema-id"] = schema.SchemaId,
            ["schemas"] = new JsonArray(schema.ToJson()),
            ["default-spec-id"] = 0,
            ["partition-specs"] = new JsonArray(new JsonObject { ["spec-id"] = 0, ["fields"] = fields }),
            // Java's PARTITION_DATA_ID_START - 1 for an unpartitioned table.
            ["last-partition-id"] = spec.Count == 0 ? 999 : spec.Max(p => p.FieldId),
            ["default-sort-order-id"] = 0,
            ["sort-orders"] = new JsonArray(new JsonObject { ["order-id"] = 0, ["fields"] = new JsonArray() }),
            ["properties"] = new JsonObject
            {
                ["write.format.default"] = "parquet",
                ["write.parquet.compression-codec"] = "zstd",
                ["write.metadata.previous-versions-max"] = "100",
                ["engine.name"] = "ingot",
            },
            // No snapshot yet: -1, as Java writes it (older Java and Trino require the field).
            ["current-snapshot-id"] = -1L,
            ["refs"] = new JsonObject(),
            ["snapshots"] = new JsonArray(),
            ["snapshot-log"] = new JsonArray(),
            ["metadata-log"] = new JsonArray(),
        };
        return new TableMetadata(json);
    }

    /// <summary>
    /// The next version: <paramref name="snapshot"/> added and current (main branch, snapshot log), the schema made current
    /// when its columns changed (a new schema id), the previous file in the metadata log.
    /// </summary>
    public TableMetadata Commit(string? previousLocation, JsonObject snapshot, IcebergSchema schema, int lastColumnId, long nowMs)
    {
        var json = (JsonObject)_json.DeepClone();
        var current = CurrentSchema;
        if (!current.SameColumns(schema))
        {
            var schemas = json["schemas"]!.AsArray();
            var id = schemas.Max(s => s!["schema-id"]!.GetValue<int>()) + 1;
            snapshot["schema-id"] = id;
            schemas.Add((schema with { SchemaId = id }).ToJson());
            json["current-schema-id"] = id;
        }
        else
        {
            snapshot["schema-id"] = current.SchemaId;
        }
        json["last-column-id"] = Math.Max(LastColumnId, lastColumnId);
        var id2 = snapshot["snapshot-id"]!.GetValue<long>();
        var log = json["snapshot-log"] as JsonArray ?? [];
        // The snapshot log must stay sorted by time, whatever the writers' clocks say.
        var last = log.Count == 0 ? 0 : log[^1]!["timestamp-ms"]!.GetValue<long>();
        var ts = Math.Max(Math.Max(nowMs, last), LastUpdatedMs);
        snapshot["timestamp-ms"] = ts;
        json["snapshots"]!.AsArray().Add(snapshot);
        json["current-snapshot-id"] = id2;
        json["refs"] = new JsonObject { ["main"] = new JsonObject { ["snapshot-id"] = id2, ["type"] = "branch" } };
        log.Add(new JsonObject { ["timestamp-ms"] = ts, ["snapshot-id"] = id2 });
        json["snapshot-log"] = log;
        json["last-sequence-number"] = snapshot["sequence-number"]!.GetValue<long>();
        json["last-updated-ms"] = ts;
        if (previousLocation is not null)
        {
            var metadataLog = json["metadata-log"] as JsonArray ?? [];
            metadataLog.Add(new JsonObject { ["timestamp-ms"] = LastUpdatedMs, ["metadata-file"] = previousLocation });
            var max = Properties.TryGetValue("write.metadata.previous-versions-max", out var m) && int.TryParse(m, CultureInfo.InvariantCulture, out var n) ? Math.Max(1, n) : 100;
            while (metadataLog.Count > max) metadataLog.RemoveAt(0);
            json["metadata-log"] = metadataLog;
        }
        return new TableMetadata(json);
    }

    /// <summary>
    /// The next version without <paramref name="expired"/> snapshots (their snapshot-log entries dropped with them),
    /// with <paramref name="properties"/> set, and the previous file in the metadata log.
    /// </summary>
    public TableMetadata Expire(string previousLocation, IReadOnlySet<long> expired, IReadOnlyDictionary<string, string> properties, long nowMs)
    {
        var json = (JsonObject)_json.DeepClone();
        var snapshots = new JsonArray();
        foreach (var s in Snapshots.Where(s => !expired.Contains(s["snapshot-id"]!.GetValue<long>()))) snapshots.Add(s.DeepClone());
        json["snapshots"] = snapshots;
        var log = new JsonArray();
        foreach (var e in (_json["snapshot-log"] as JsonArray ?? []).OfType<JsonObject>().Where(e => !expired.Contains(e["snapshot-id"]!.GetValue<long>())))
            log.Add(e.DeepClone());
        json["snapshot-log"] = log;
        var props = json["properties"] as JsonObject ?? [];
        foreach (var (k, v) in properties) props[k] = v;
        json["properties"] = props;
        var ts = Math.Max(nowMs, LastUpdatedMs);
        var metadataLog = json["metadata-log"] as JsonArray ?? [];
        metadataLog.Add(new JsonObject { ["timestamp-ms"] = LastUpdatedMs, ["metadata-file"] = previousLocation });
        json["metadata-log"] = metadataLog;
        json["last-updated-ms"] = ts;
        return new TableMetadata(json);
    }

    /// <summary>The metadata files this version's log still names.</summary>
    public IEnumerable<string> MetadataLog => (_json["metadata-log"] as JsonArray ?? []).OfType<JsonObject>().Select(e => e["metadata-file"]!.GetValue<string>());
}
