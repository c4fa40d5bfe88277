using System.Text.Json.Nodes;
using Ingot.DuckDb.Parquet;
using Ingot.Records;

namespace Ingot.Iceberg.Table;

/// <summary>
/// A column of an Iceberg table: a primitive (<c>long</c>, <c>double</c>, <c>boolean</c>, <c>string</c>, <c>timestamptz</c>)
/// or a list of one (<see cref="ElementId"/> set). Ids are the table's: assigned once, never reused.
/// </summary>
internal sealed record IcebergField(int Id, string Name, string Type, int? ElementId = null, string? ElementType = null)
{
    public bool IsList => ElementId is not null;

    public JsonObject ToJson() => new()
    {
        ["id"] = Id,
        ["name"] = Name,
        ["required"] = false,
        ["type"] = IsList
            ? new JsonObject { ["type"] = "list", ["element-id"] = ElementId, ["element"] = ElementType, ["element-required"] = false }
            : Type,
    };

    public static IcebergField FromJson(JsonNode node)
    {
        var id = node["id"]!.GetValue<int>();
        var name = node["name"]!.GetValue<string>();
        return node["type"] switch
        {
            JsonObject { } list when list["type"]?.GetValue<string>() == "list" && list["element"] is JsonValue element =>
                new IcebergField(id, name, "list", list["element-id"]!.GetValue<int>(), element.GetValue<string>()),
            JsonValue v => new IcebergField(id, name, v.GetValue<string>()),
            // Structs, maps and nested lists are other writers' columns: kept in the schema, never written by Ingot.
            var other => new IcebergField(id, name, other?.ToJsonString() ?? "unknown"),
        };
    }

    /// <summary>The column type Ingot stages values of this field as.</summary>
    public ColumnType? Staged => (Type, ElementType) switch
    {
        ("long", _) => ColumnType.BigInt,
        ("double", _) => ColumnType.Double,
        ("boolean", _) => ColumnType.Boolean,
        ("string", _) => ColumnType.Varchar,
        ("list", "string") => ColumnType.VarcharList,
        ("list", "double") => ColumnType.DoubleList,
        _ => null,
    };
}

/// <summary>An Iceberg schema: its id and its top-level fields, with the table's highest assigned id.</summary>
internal sealed record IcebergSchema(int SchemaId, IReadOnlyList<IcebergField> Fields)
{
    /// <summary>Ingot's metadata columns (DESIGN §5), in every table Ingot writes.</summary>
    public static readonly IReadOnlyList<(string Name, string Type)> MetadataColumns =
    [
        (Records.MetadataColumns.IngestionId, "string"),
        (Records.MetadataColumns.IngestedAt, "timestamptz"),
        (Records.MetadataColumns.SourceSystem, "string"),
        (Records.MetadataColumns.Stream, "string"),
        (Records.MetadataColumns.ChunkKey, "string"),
        (Records.MetadataColumns.RecordHash, "string"),
        (Records.MetadataColumns.EventTs, "timestamptz"),
    ];

    public IcebergField? Field(string name) => Fields.FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.Ordinal));

    public int MaxId => Fields.Count == 0 ? 0 : Fields.Max(f => Math.Max(f.Id, f.ElementId ?? 0));

    public JsonObject ToJson()
    {
        var fields = new JsonArray();
        foreach (var f in Fields) fields.Add(f.ToJson());
        return new JsonObject { ["type"] = "struct", ["schema-id"] = SchemaId, ["fields"] = fields };
    }

    public static IcebergSchema FromJson(JsonNode node) =>
        new(node["schema-id"]?.GetValue<int>() ?? 0, node["fields"]!.AsArray().Select(f => IcebergField.FromJson(f!)).ToList());

    /// <summary>Same columns (ids, names, types), whatever the schema id.</summary>
    public bool SameColumns(IcebergSchema other) => Fields.Count == other.Fields.Count && Fields.Zip(other.Fields).All(p => p.First == p.Second);

    /// <summary>
    /// The types a chunk's columns are written with, and the schema with any new fields (new ids above
    /// <paramref name="lastColumnId"/>; the metadata columns added on first use). A type change Iceberg v2 cannot widen
    /// to (a <c>long</c> column receiving fractions, a list column receiving a scalar) is reported with the column and
    /// the chunk; a <c>string</c> column takes any value as its JSON text, a <c>double</c> column takes integers.
    /// </summary>
    public (ColumnType[] Types, IcebergSchema Schema, int LastColumnId) Reconcile(string stream, string chunkKey, IReadOnlyList<string> names, IReadOnlyList<ColumnType> incoming, int lastColumnId)
    {
        var fields = Fields.ToList();
        var next = lastColumnId;
        var types = new ColumnType[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            var existing = fields.FirstOrDefault(f => string.Equals(f.Name, names[i], StringComparison.Ordinal));
            if (existing is null)
            {
                var type = incoming[i] switch { ColumnType.Unknown => ColumnType.Varchar, ColumnType.EmptyList => ColumnType.VarcharList, var t => t };
                types[i] = type;
                fields.Add(type switch
                {
                    ColumnType.BigInt => new IcebergField(++next, names[i], "long"),
                    ColumnType.Double => new IcebergField(++next, names[i], "double"),
                    ColumnType.Boolean => new IcebergField(++next, names[i], "boolean"),
                    ColumnType.VarcharList => new IcebergField(++next, names[i], "list", ++next, "string"),
                    ColumnType.DoubleList => new IcebergField(++next, names[i], "list", ++next, "double"),
                    _ => new IcebergField(++next, names[i], "string"),
                });
                continue;
            }
            var established = existing.Staged
                ?? throw new InvalidDataException($"column '{names[i]}' of stream '{stream}' has the Iceberg type {existing.Type}, which Ingot does not write (chunk '{chunkKey}')");
            types[i] = (established, incoming[i]) switch
            {
                (_, ColumnType.Unknown) => established,
                (ColumnType.Varchar, _) => ColumnType.Varchar,
                (ColumnType.BigInt, ColumnType.BigInt) => ColumnType.BigInt,
                (ColumnType.Double, ColumnType.BigInt or ColumnType.Double) => ColumnType.Double,
                (ColumnType.Boolean, ColumnType.Boolean) => ColumnType.Boolean,
                (ColumnType.VarcharList, ColumnType.VarcharList or ColumnType.EmptyList) => ColumnType.VarcharList,
                (ColumnType.DoubleList, ColumnType.DoubleList or ColumnType.EmptyList) => ColumnType.DoubleList,
                _ => throw new InvalidDataException(
                    $"column '{names[i]}' of stream '{stream}' is {Describe(existing)} in the Iceberg table, but chunk '{chunkKey}' brings {incoming[i].Sql()} values: " +
                    "Iceberg v2 cannot widen that type. Fix the source or transforms (cast the field), or land the data under a new stream or table."),
            };
        }
        foreach (var (name, type) in MetadataColumns)
        {
            if (fields.Any(f => f.Name == name)) continue;
            fields.Add(new IcebergField(++next, name, type));
        }
        var schema = next == lastColumnId && fields.Count == Fields.Count ? this : new IcebergSchema(SchemaId, fields);
        return (types, schema, next);
    }

    private static string Describe(IcebergField f) => f.IsList ? $"list<{f.ElementType}>" : f.Type;
}
