using System.Text.Json.Nodes;
using Avro;
using Avro.File;
using Avro.Generic;

namespace Ingot.Iceberg.Table;

/// <summary>A data file as a manifest describes it (spec §Data File Fields), with its column statistics by field id.</summary>
internal sealed record DataFile(
    string Path,
    long RecordCount,
    long SizeBytes,
    IReadOnlyList<object?> Partition,
    IReadOnlyDictionary<int, long> ColumnSizes,
    IReadOnlyDictionary<int, long> ValueCounts,
    IReadOnlyDictionary<int, long> NullCounts,
    IReadOnlyDictionary<int, byte[]> LowerBounds,
    IReadOnlyDictionary<int, byte[]> UpperBounds,
    IReadOnlyList<long> SplitOffsets);

/// <summary>One entry of a manifest list (spec §Manifest Lists).</summary>
internal sealed record ManifestFile(
    string Path, long Length, int SpecId, int Content, long SequenceNumber, long MinSequenceNumber, long AddedSnapshotId,
    int AddedFiles, int ExistingFiles, int DeletedFiles, long AddedRows, long ExistingRows, long DeletedRows,
    IReadOnlyList<FieldSummary>? Partitions);

internal sealed record FieldSummary(bool ContainsNull, bool? ContainsNan, byte[]? Lower, byte[]? Upper);

/// <summary>A live or deleted entry of a manifest, read back: enough to plan, verify and rewrite it.</summary>
internal sealed record EntryInfo(int Status, long SnapshotId, long SequenceNumber, long FileSequenceNumber, string Path, long RecordCount, long SizeBytes, int Content, GenericRecord Record);

/// <summary>
/// Manifests and manifest lists in Avro, as Java's v2 writer lays them out (notes/iceberg.md §3, §4): the record names
/// <c>manifest_file</c> / <c>manifest_entry</c>, a <c>field-id</c> on every field, the maps as arrays of key/value
/// records, <c>avro.codec</c> deflate, and the key-value metadata every reader checked expects.
/// </summary>
internal static class Manifests
{
    public const int Added = 1, Existing = 0, Deleted = 2;

    private static readonly Codec Deflate = Codec.CreateCodec(Codec.Type.Deflate);

    static Manifests()
    {
        // Iceberg marks its int-keyed maps as arrays with logicalType "map"; Apache.Avro must know the name to parse them.
        Avro.Util.LogicalTypeFactory.Instance.Register(new MapLogicalType());
    }

    private static JsonObject F(int id, string name, JsonNode type, bool optional = false)
    {
        var field = new JsonObject { ["name"] = name, ["type"] = optional ? new JsonArray("null", type) : type, ["field-id"] = id };
        if (optional) field["default"] = null;
        return field;
    }

    private static JsonObject IntMap(int id, string name, int keyId, int valueId, string valueType) =>
        F(id, name, new JsonObject
        {
            ["type"] = "array",
            ["logicalType"] = "map",
            ["items"] = new JsonObject
            {
                ["type"] = "record",
                ["name"] = $"k{keyId}_v{valueId}",
                ["fields"] = new JsonArray(F(keyId, "key", "int"), F(valueId, "value", valueType)),
            },
        }, optional: true);

    private static JsonObject List(int id, string name, int elementId, string type) =>
        F(id, name, new JsonObject { ["type"] = "array", ["items"] = type, ["element-id"] = elementId }, optional: true);

    /// <summary>The v2 <c>manifest_entry</c> schema for a partition spec (field order as Java's <c>V2Metadata</c>).</summary>
    public static RecordSchema EntrySchema(IReadOnlyList<PartitionField> spec)
    {
        var partition = new JsonArray();
        foreach (var p in spec) partition.Add(F(p.FieldId, p.Name, p.AvroType(), optional: true));
        var dataFile = new JsonObject
        {
            ["type"] = "record",
            ["name"] = "r2",
            ["fields"] = new JsonArray(
                F(134, "content", "int"),
                F(100, "file_path", "string"),
                F(101, "file_format", "string"),
                F(102, "partition", new JsonObject { ["type"] = "record", ["name"] = "r102", ["fields"] = partition }),
                F(103, "record_count", "long"),
                F(104, "file_size_in_bytes", "long"),
                IntMap(108, "column_sizes", 117, 118, "long"),
                IntMap(109, "value_counts", 119, 120, "long"),
                IntMap(110, "null_value_counts", 121, 122, "long"),
                IntMap(137, "nan_value_counts", 138, 139, "long"),
                IntMap(125, "lower_bounds", 126, 127, "bytes"),
                IntMap(128, "upper_bounds", 129, 130, "bytes"),
                F(131, "key_metadata", "bytes", optional: true),
                List(132, "split_offsets", 133, "long"),
                List(135, "equality_ids", 136, "int"),
                F(140, "sort_order_id", "int", optional: true)),
        };
        var entry = new JsonObject
        {
            ["type"] = "record",
            ["name"] = "manifest_entry",
            ["fields"] = new JsonArray(
                F(0, "status", "int"),
                F(1, "snapshot_id", "long", optional: true),
                F(3, "sequence_number", "long", optional: true),
                F(4, "file_sequence_number", "long", optional: true),
                F(2, "data_file", dataFile)),
        };
        return (RecordSchema)Schema.Parse(entry.ToJsonString());
    }

    private static readonly Lazy<RecordSchema> ListSchema = new(() =>
    {
        var summary = new JsonObject
        {
            ["type"] = "record",
            ["name"] = "r508",
            ["fields"] = new JsonArray(
                F(509, "contains_null", "boolean"),
                F(518, "contains_nan", "boolean", optional: true),
                F(510, "lower_bound", "bytes", optional: true),
                F(511, "upper_bound", "bytes", optional: true)),
        };
        var schema = new JsonObject
        {
            ["type"] = "record",
            ["name"] = "manifest_file",
            ["fields"] = new JsonArray(
                F(500, "manifest_path", "string"),
                F(501, "manifest_length", "long"),
                F(502, "partition_spec_id", "int"),
                F(517, "content", "int"),
                F(515, "sequence_number", "long"),
                F(516, "min_sequence_number", "long"),
                F(503, "added_snapshot_id", "long"),
                F(504, "added_files_count", "int"),
                F(505, "existing_files_count", "int"),
                F(506, "deleted_files_count", "int"),
                F(512, "added_rows_count", "long"),
                F(513, "existing_rows_count", "long"),
                F(514, "deleted_rows_count", "long"),
                F(507, "partitions", new JsonObject { ["type"] = "array", ["items"] = summary, ["element-id"] = 508 }, optional: true),
                F(519, "key_metadata", "bytes", optional: true)),
        };
        return (RecordSchema)Schema.Parse(schema.ToJsonString());
    });

    /// <summary>A data manifest of new files (status ADDED, snapshot and sequence numbers inherited from the manifest list).</summary>
    public static byte[] WriteAdded(IcebergSchema schema, int specId, IReadOnlyList<PartitionField> spec, IReadOnlyList<DataFile> files)
    {
        var avro = EntrySchema(spec);
        var dataFileSchema = (RecordSchema)((RecordSchema)avro)["data_file"].Schema;
        var records = files.Select(f =>
        {
            var entry = new GenericRecord(avro);
            entry.Add("status", Added);
            entry.Add("snapshot_id", null);
            entry.Add("sequence_number", null);
            entry.Add("file_sequence_number", null);
            entry.Add("data_file", DataFileRecord(dataFileSchema, spec, f));
            return entry;
        }).ToList();
        return Write(avro, records, ManifestMeta(schema, specId, spec));
    }

    /// <summary>
    /// A manifest rewritten by a commit that removes some of its files: those entries DELETED by <paramref name="snapshotId"/>,
    /// the others EXISTING; every entry with explicit sequence numbers (spec: only ADDED entries may inherit). The
    /// manifest's own Avro schema and metadata are kept, so other writers' fields survive.
    /// </summary>
    public static byte[] Rewrite(ManifestRead manifest, ManifestFile listed, IReadOnlySet<string> removed, long snapshotId)
    {
        var records = new List<GenericRecord>();
        foreach (var e in manifest.Entries)
        {
            if (e.Status == Deleted) continue; // deleted by an earlier snapshot: nothing to carry
            var r = e.Record;
            var gone = removed.Contains(e.Path);
            r.Add("status", gone ? Deleted : Existing);
            r.Add("snapshot_id", gone ? snapshotId : e.SnapshotId);
            r.Add("sequence_number", e.SequenceNumber);
            r.Add("file_sequence_number", e.FileSequenceNumber);
            records.Add(r);
        }
        return Write(manifest.Schema, records, manifest.Meta);
    }

    private static Dictionary<string, string> ManifestMeta(IcebergSchema schema, int specId, IReadOnlyList<PartitionField> spec)
    {
        var fields = new JsonArray();
        foreach (var p in spec) fields.Add(p.ToJson());
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["schema"] = schema.ToJson().ToJsonString(),
            ["schema-id"] = schema.SchemaId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["partition-spec"] = fields.ToJsonString(),
            ["partition-spec-id"] = specId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["format-version"] = "2",
            ["content"] = "data",
        };
    }

    private static GenericRecord DataFileRecord(RecordSchema schema, IReadOnlyList<PartitionField> spec, DataFile f)
    {
        var record = new GenericRecord(schema);
        record.Add("content", 0);
        record.Add("file_path", f.Path);
        record.Add("file_format", "PARQUET");
        var partition = new GenericRecord((RecordSchema)schema["partition"].Schema);
        for (var i = 0; i < spec.Count; i++) partition.Add(spec[i].Name, spec[i].ToAvro(f.Partition[i]));
        record.Add("partition", partition);
        record.Add("record_count", f.RecordCount);
        record.Add("file_size_in_bytes", f.SizeBytes);
        record.Add("column_sizes", Map(schema, "column_sizes", f.ColumnSizes));
        record.Add("value_counts", Map(schema, "value_counts", f.ValueCounts));
        record.Add("null_value_counts", Map(schema, "null_value_counts", f.NullCounts));
        record.Add("nan_value_counts", null);
        record.Add("lower_bounds", Map(schema, "lower_bounds", f.LowerBounds));
        record.Add("upper_bounds", Map(schema, "upper_bounds", f.UpperBounds));
        record.Add("key_metadata", null);
        record.Add("split_offsets", f.SplitOffsets.Count == 0 ? null : f.SplitOffsets.Cast<object>().ToArray());
        record.Add("equality_ids", null);
        record.Add("sort_order_id", 0);
        return record;
    }

    private static object[] Map<T>(RecordSchema schema, string field, IReadOnlyDictionary<int, T> values)
    {
        var second = ((UnionSchema)schema[field].Schema).Schemas[1];
        var array = (ArraySchema)(second is LogicalSchema logical ? logical.BaseSchema : second);
        var kv = (RecordSchema)array.ItemSchema;
        return values.OrderBy(p => p.Key).Select(p =>
        {
            var r = new GenericRecord(kv);
            r.Add("key", p.Key);
            r.Add("value", p.Value);
            return (object)r;
        }).ToArray();
    }

    /// <summary>A manifest list: the snapshot's manifests with Java's four key-value entries.</summary>
    public static byte[] WriteList(IReadOnlyList<ManifestFile> manifests, long snapshotId, long? parentId, long sequenceNumber)
    {
        var schema = ListSchema.Value;
        var summarySchema = (RecordSchema)((ArraySchema)((UnionSchema)schema["partitions"].Schema).Schemas[1]).ItemSchema;
        var records = manifests.Select(m =>
        {
            var r = new GenericRecord(schema);
            r.Add("manifest_path", m.Path);
            r.Add("manifest_length", m.Length);
            r.Add("partition_spec_id", m.SpecId);
            r.Add("content", m.Content);
            r.Add("sequence_number", m.SequenceNumber);
            r.Add("min_sequence_number", m.MinSequenceNumber);
            r.Add("added_snapshot_id", m.AddedSnapshotId);
            r.Add("added_files_count", m.AddedFiles);
            r.Add("existing_files_count", m.ExistingFiles);
            r.Add("deleted_files_count", m.DeletedFiles);
            r.Add("added_rows_count", m.AddedRows);
            r.Add("existing_rows_count", m.ExistingRows);
            r.Add("deleted_rows_count", m.DeletedRows);
            r.Add("partitions", m.Partitions?.Select(p =>
            {
                var s = new GenericRecord(summarySchema);
                s.Add("contains_null", p.ContainsNull);
                s.Add("contains_nan", p.ContainsNan);
                s.Add("lower_bound", p.Lower);
                s.Add("upper_bound", p.Upper);
                return (object)s;
            }).ToArray());
            r.Add("key_metadata", null);
            return r;
        }).ToList();
        var meta = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["snapshot-id"] = snapshotId.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["parent-snapshot-id"] = parentId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null",
            ["sequence-number"] = sequenceNumber.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["format-version"] = "2",
        };
        return Write(schema, records, meta);
    }

    private static byte[] Write(Schema schema, IReadOnlyList<GenericRecord> records, IReadOnlyDictionary<string, string> meta)
    {
        var buffer = new MemoryStream();
        using (var writer = DataFileWriter<GenericRecord>.OpenWriter(new GenericDatumWriter<GenericRecord>(schema), buffer, Deflate))
        {
            foreach (var (k, v) in meta) writer.SetMeta(k, v);
            foreach (var r in records) writer.Append(r);
        }
        return buffer.ToArray();
    }

    // ---- reading ---------------------------------------------------------------------------------------------

    internal sealed record ManifestRead(Schema Schema, IReadOnlyDictionary<string, string> Meta, IReadOnlyList<EntryInfo> Entries);

    /// <summary>Reads a manifest; ADDED entries inherit the snapshot id and sequence numbers of <paramref name="listed"/>.</summary>
    public static ManifestRead ReadManifest(byte[] bytes, ManifestFile listed)
    {
        using var reader = DataFileReader<GenericRecord>.OpenReader(new MemoryStream(bytes));
        var meta = reader.GetMetaKeys().ToDictionary(k => k, reader.GetMetaString, StringComparer.Ordinal);
        meta.Remove("avro.schema");
        meta.Remove("avro.codec");
        var entries = new List<EntryInfo>();
        while (reader.HasNext())
        {
            var r = reader.Next();
            var status = (int)r["status"];
            var file = (GenericRecord)r["data_file"];
            var inherit = status == Added;
            var seq = Get<long?>(r, "sequence_number") ?? (inherit || listed.SequenceNumber == 0 ? listed.SequenceNumber : throw new InvalidDataException($"{listed.Path}: an entry that is not ADDED has no sequence number"));
            entries.Add(new EntryInfo(status,
                Get<long?>(r, "snapshot_id") ?? listed.AddedSnapshotId,
                seq,
                Get<long?>(r, "file_sequence_number") ?? seq,
                (string)file["file_path"], (long)file["record_count"], (long)file["file_size_in_bytes"],
                file.TryGetValue("content", out var c) && c is int content ? content : 0, r));
        }
        return new ManifestRead(reader.GetSchema(), meta, entries);
    }

    public static IReadOnlyList<ManifestFile> ReadList(byte[] bytes)
    {
        using var reader = DataFileReader<GenericRecord>.OpenReader(new MemoryStream(bytes));
        var list = new List<ManifestFile>();
        while (reader.HasNext())
        {
            var r = reader.Next();
            var partitions = Get<object[]>(r, "partitions")?.Cast<GenericRecord>().Select(s =>
                new FieldSummary((bool)s["contains_null"], Get<bool?>(s, "contains_nan"), Get<byte[]>(s, "lower_bound"), Get<byte[]>(s, "upper_bound"))).ToList();
            list.Add(new ManifestFile((string)r["manifest_path"], (long)r["manifest_length"], (int)r["partition_spec_id"],
                Get<int?>(r, "content") ?? 0, Get<long?>(r, "sequence_number") ?? 0, Get<long?>(r, "min_sequence_number") ?? 0, (long)r["added_snapshot_id"],
                Get<int?>(r, "added_files_count") ?? Get<int?>(r, "added_data_files_count") ?? 0,
                Get<int?>(r, "existing_files_count") ?? Get<int?>(r, "existing_data_files_count") ?? 0,
                Get<int?>(r, "deleted_files_count") ?? Get<int?>(r, "deleted_data_files_count") ?? 0,
                Get<long?>(r, "added_rows_count") ?? 0, Get<long?>(r, "existing_rows_count") ?? 0, Get<long?>(r, "deleted_rows_count") ?? 0,
                partitions));
        }
        return list;
    }

    private static T? Get<T>(GenericRecord r, string name) => r.TryGetValue(name, out var v) && v is T t ? t : default;

    /// <summary>Iceberg's <c>"logicalType": "map"</c> on arrays of key/value records: carried as the array it is.</summary>
    private sealed class MapLogicalType() : Avro.Util.LogicalType("map")
    {
        public override object ConvertToBaseValue(object logicalValue, LogicalSchema schema) => logicalValue;
        public override object ConvertToLogicalValue(object baseValue, LogicalSchema schema) => baseValue;
        public override Type GetCSharpType(bool nullible) => typeof(object[]);
        public override bool IsInstanceOfLogicalType(object logicalValue) => logicalValue is object[];
        public override void ValidateSchema(LogicalSchema schema)
        {
            if (schema.BaseSchema is not ArraySchema) throw new AvroTypeException("logicalType map must be on an array");
        }
    }
}
