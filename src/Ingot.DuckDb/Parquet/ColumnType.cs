using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ingot.DuckDb.Parquet;

/// <summary>
/// The Parquet column types Ingot gives record fields (DuckDB names in brackets):
/// <list type="bullet">
/// <item>JSON number → <c>BIGINT</c> when every value of the column is integral and fits in 64 bits, else <c>DOUBLE</c>;</item>
/// <item>JSON string → <c>VARCHAR</c>; JSON true/false → <c>BOOLEAN</c>;</item>
/// <item>array of strings → <c>VARCHAR[]</c> (a LIST; an empty array stays an empty list, never NULL; null elements stay null);</item>
/// <item>array of numbers → <c>DOUBLE[]</c>;</item>
/// <item>objects, nested or mixed arrays, and columns that mix kinds (say strings and numbers) → <c>VARCHAR</c>
/// holding the value's compact JSON text (numbers keep the source's digits). Bronze keeps the data, not a guess at
/// its structure: a STRUCT type would break on the next chunk whose keys differ, JSON text never does, and
/// <c>json_extract</c> reads it back.</item>
/// </list>
/// A column whose values are all null in a chunk has no type yet (<see cref="Unknown"/>).
/// </summary>
internal enum ColumnType
{
    Unknown,
    BigInt,
    Double,
    Boolean,
    Varchar,
    VarcharList,
    DoubleList,
    /// <summary>Only empty arrays (or arrays of nulls) seen: fits either list type.</summary>
    EmptyList,
}

internal static class ColumnTypes
{
    public static string Sql(this ColumnType type) => type switch
    {
        ColumnType.BigInt => "BIGINT",
        ColumnType.Double => "DOUBLE",
        ColumnType.Boolean => "BOOLEAN",
        ColumnType.VarcharList or ColumnType.EmptyList => "VARCHAR[]",
        ColumnType.DoubleList => "DOUBLE[]",
        _ => "VARCHAR",
    };

    public static ColumnType Parse(string sql) => sql.ToUpperInvariant() switch
    {
        "BIGINT" => ColumnType.BigInt,
        "DOUBLE" => ColumnType.Double,
        "BOOLEAN" => ColumnType.Boolean,
        "VARCHAR" => ColumnType.Varchar,
        "VARCHAR[]" => ColumnType.VarcharList,
        "DOUBLE[]" => ColumnType.DoubleList,
        _ => throw new InvalidDataException($"unknown column type '{sql}' in a stream schema"),
    };

    public static bool IsList(this ColumnType type) => type is ColumnType.VarcharList or ColumnType.DoubleList or ColumnType.EmptyList;

    /// <summary>The type of one value.</summary>
    public static ColumnType Classify(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return ColumnType.Unknown;
            case JsonObject:
                return ColumnType.Varchar;
            case JsonArray array:
                var kind = ColumnType.EmptyList;
                foreach (var item in array)
                {
                    if (item is null) continue;
                    var itemKind = item.GetValueKind() switch
                    {
                        JsonValueKind.String => ColumnType.VarcharList,
                        JsonValueKind.Number => ColumnType.DoubleList,
                        _ => ColumnType.Varchar,
                    };
                    if (itemKind == ColumnType.Varchar) return ColumnType.Varchar;
                    if (kind == ColumnType.EmptyList) kind = itemKind;
                    else if (kind != itemKind) return ColumnType.Varchar;
                }
                return kind;
            default:
                return node.GetValueKind() switch
                {
                    JsonValueKind.String => ColumnType.Varchar,
                    JsonValueKind.True or JsonValueKind.False => ColumnType.Boolean,
                    JsonValueKind.Number => TryGetInt64(node.AsValue(), out _) ? ColumnType.BigInt : ColumnType.Double,
                    JsonValueKind.Null => ColumnType.Unknown,
                    _ => ColumnType.Varchar,
                };
        }
    }

    /// <summary>Two values of one column within a chunk: the narrowest type holding both (irregular mixes become JSON text).</summary>
    public static ColumnType MergeWithinChunk(ColumnType a, ColumnType b)
    {
        if (a == b || b == ColumnType.Unknown) return a;
        if (a == ColumnType.Unknown) return b;
        if (a == ColumnType.EmptyList && b.IsList()) return b;
        if (b == ColumnType.EmptyList && a.IsList()) return a;
        if ((a, b) is (ColumnType.BigInt, ColumnType.Double) or (ColumnType.Double, ColumnType.BigInt)) return ColumnType.Double;
        return ColumnType.Varchar;
    }

    /// <summary>
    /// The type a chunk's column is written with, given the stream's established type: the established type when the
    /// values fit it (cast), a wider type when they do not (BIGINT→DOUBLE, anything non-list→VARCHAR), or null when the
    /// change is incompatible (a LIST column receiving anything but a list of its element type).
    /// </summary>
    public static ColumnType? Reconcile(ColumnType established, ColumnType incoming)
    {
        if (incoming == ColumnType.Unknown || incoming == established) return established;
        if (established.IsList())
            return incoming == ColumnType.EmptyList ? established : null;
        return (established, incoming) switch
        {
            (ColumnType.Double, ColumnType.BigInt) => ColumnType.Double,
            (ColumnType.BigInt, ColumnType.Double) => ColumnType.Double,
            _ => ColumnType.Varchar,
        };
    }

    /// <summary>An integral JSON number that fits in 64 bits.</summary>
    public static bool TryGetInt64(JsonValue value, out long result)
    {
        if (value.TryGetValue<JsonElement>(out var element))
            return element.TryGetInt64(out result);
        if (value.TryGetValue(out result)) return true;
        if (value.TryGetValue<int>(out var i)) { result = i; return true; }
        return long.TryParse(value.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result);
    }

    public static double GetDouble(JsonValue value)
    {
        if (value.TryGetValue<JsonElement>(out var element)) return element.GetDouble();
        if (value.TryGetValue<double>(out var d)) return d;
        return double.Parse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
    }
}
