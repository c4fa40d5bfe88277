using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Ingot.Iceberg.Table;

/// <summary>One <c>partition_by</c> entry as configured: <c>day(_event_ts)</c>, <c>identity(station)</c>, …</summary>
public sealed partial record PartitionTransform(string Transform, string Source)
{
    public static readonly IReadOnlyList<string> Known = ["identity", "year", "month", "day", "hour"];

    /// <summary>The partition field's name, as Java and PyIceberg name them: the source for identity, else <c>source_transform</c>.</summary>
    public string Name => Transform == "identity" ? Source : $"{Source}_{Transform}";

    public bool IsTime => Transform != "identity";

    public static PartitionTransform Parse(string text)
    {
        var m = Syntax().Match(text.Trim());
        if (!m.Success) throw new FormatException($"'{text}' is not a partition transform; write transform(column), e.g. day(_event_ts) or identity(station)");
        var transform = m.Groups[1].Value.ToLowerInvariant();
        var source = m.Groups[2].Value.Trim();
        if (!Known.Contains(transform)) throw new FormatException($"'{transform}' is not a supported partition transform (supported: {string.Join(", ", Known)})");
        if (transform != "identity" && source is not (Records.MetadataColumns.EventTs or Records.MetadataColumns.IngestedAt))
            throw new FormatException($"{transform}() needs a timestamp column, and records carry their time in {Records.MetadataColumns.EventTs} (or {Records.MetadataColumns.IngestedAt}); '{source}' is a record field");
        return new PartitionTransform(transform, source);
    }

    public override string ToString() => $"{Transform}({Source})";

    [GeneratedRegex(@"^([A-Za-z]+)\(\s*([^()\s][^()]*)\s*\)$")]
    private static partial Regex Syntax();
}

/// <summary>A partition field of the table's spec: the transform, its source field id and its own id (1000 and up).</summary>
internal sealed record PartitionField(int SourceId, int FieldId, string Name, string Transform, string SourceType)
{
    /// <summary>The Iceberg type of the partition value (notes/iceberg.md §6).</summary>
    public string ResultType => Transform switch
    {
        "identity" => SourceType,
        "day" => "date",
        _ => "int",
    };

    public JsonObject ToJson() => new() { ["source-id"] = SourceId, ["field-id"] = FieldId, ["name"] = Name, ["transform"] = Transform };

    private const long MicrosPerHour = 3_600_000_000L;
    private const long MicrosPerDay = 86_400_000_000L;

    /// <summary>The partition value for a source value (long, double, bool, string, or µs since the epoch for a timestamp); null stays null.</summary>
    public object? Apply(object? source)
    {
        if (source is null) return null;
        if (Transform == "identity") return source;
        var micros = (long)source;
        var date = DateTimeOffset.UnixEpoch.AddTicks(micros * 10).UtcDateTime;
        return Transform switch
        {
            "hour" => (int)Math.Floor(micros / (double)MicrosPerHour),
            "day" => (int)Math.Floor(micros / (double)MicrosPerDay),
            "month" => (date.Year - 1970) * 12 + date.Month - 1,
            "year" => date.Year - 1970,
            _ => throw new InvalidOperationException($"unknown transform {Transform}"),
        };
    }

    /// <summary>The folder segment of a value, in Java's human form (<c>_event_ts_day=2024-01-15</c>).</summary>
    public string Segment(object? value)
    {
        var text = value switch
        {
            null => "null",
            int days when Transform == "day" => DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + days).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            int months when Transform == "month" => string.Create(CultureInfo.InvariantCulture, $"{1970 + (int)Math.Floor(months / 12.0):D4}-{((months % 12) + 12) % 12 + 1:D2}"),
            int years when Transform == "year" => (1970 + years).ToString("D4", CultureInfo.InvariantCulture),
            int hours when Transform == "hour" => DateTime.UnixEpoch.AddHours(hours).ToString("yyyy-MM-dd-HH", CultureInfo.InvariantCulture),
            long micros when SourceType == "timestamptz" => DateTimeOffset.UnixEpoch.AddTicks(micros * 10).UtcDateTime.ToString("yyyy-MM-dd'T'HH-mm-ss", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            bool b => b ? "true" : "false",
            _ => value.ToString(),
        };
        return $"{Name}={DuckDb.Parquet.ParquetDestination.PartitionValue(text)}";
    }

    /// <summary>The Avro type of the value in <c>data_file.partition</c> (always optional: transforms of null are null).</summary>
    public JsonNode AvroType() => ResultType switch
    {
        "date" => new JsonObject { ["type"] = "int", ["logicalType"] = "date" },
        "timestamptz" => new JsonObject { ["type"] = "long", ["logicalType"] = "timestamp-micros", ["adjust-to-utc"] = true },
        "int" => "int",
        "long" => "long",
        "double" => "double",
        "boolean" => "boolean",
        _ => "string",
    };

    /// <summary>The value as Apache.Avro's generic writer takes it for <see cref="AvroType"/>.</summary>
    public object? ToAvro(object? value) => value switch
    {
        null => null,
        int days when ResultType == "date" => DateTime.SpecifyKind(DateTime.UnixEpoch.AddDays(days), DateTimeKind.Utc),
        long micros when ResultType == "timestamptz" => DateTime.SpecifyKind(DateTime.UnixEpoch.AddTicks(micros * 10), DateTimeKind.Utc),
        _ => value,
    };

    /// <summary>Back from Apache.Avro's generic reader.</summary>
    public object? FromAvro(object? value) => value switch
    {
        null => null,
        DateTime d when ResultType == "date" => (int)(d.Date - DateTime.UnixEpoch).TotalDays,
        DateTime t when ResultType == "timestamptz" => (t.ToUniversalTime() - DateTime.UnixEpoch).Ticks / 10,
        _ => value,
    };
}

/// <summary>Iceberg's binary single-value serialization (spec Appendix D), for bounds in manifests and manifest lists.</summary>
internal static class SingleValue
{
    /// <summary>How many characters of a string bound Java keeps by default (<c>truncate(16)</c>).</summary>
    public const int StringPrefix = 16;

    public static byte[] Encode(string type, object value)
    {
        switch (type)
        {
            case "int" or "date":
            {
                var b = new byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(b, Convert.ToInt32(value, CultureInfo.InvariantCulture));
                return b;
            }
            case "long" or "timestamptz":
            {
                var b = new byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(b, Convert.ToInt64(value, CultureInfo.InvariantCulture));
                return b;
            }
            case "double":
            {
                var b = new byte[8];
                BinaryPrimitives.WriteDoubleLittleEndian(b, Convert.ToDouble(value, CultureInfo.InvariantCulture));
                return b;
            }
            case "boolean":
                return [(byte)((bool)value ? 1 : 0)];
            default:
                return Encoding.UTF8.GetBytes((string)value);
        }
    }

    /// <summary>A lower bound for a string column: at most <see cref="StringPrefix"/> code points (a prefix is never greater).</summary>
    public static string LowerString(string value) => Prefix(value, out _);

    /// <summary>An upper bound: the prefix with its last code point incremented when truncated; null when none exists.</summary>
    public static string? UpperString(string value)
    {
        var prefix = Prefix(value, out var truncated);
        if (!truncated) return value;
        var points = prefix.EnumerateRunes().ToList();
        for (var i = points.Count - 1; i >= 0; i--)
        {
            var next = points[i].Value + 1;
            if (next is >= 0xD800 and <= 0xDFFF) next = 0xE000;
            if (next > 0x10FFFF) continue;
            var sb = new StringBuilder();
            for (var j = 0; j < i; j++) sb.Append(points[j].ToString());
            sb.Append(new Rune(next).ToString());
            return sb.ToString();
        }
        return null;
    }

    private static string Prefix(string value, out bool truncated)
    {
        var sb = new StringBuilder();
        var n = 0;
        truncated = false;
        foreach (var rune in value.EnumerateRunes())
        {
            if (n == StringPrefix)
            {
                truncated = true;
                break;
            }
            sb.Append(rune.ToString());
            n++;
        }
        return sb.ToString();
    }
}
