using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ingot.Records;

namespace Ingot.Sources.Knmi;

/// <summary>Reads KNMI EDR CoverageJSON (a CoverageCollection or a bare Coverage) into one record per (station, time).</summary>
public static class CoverageJson
{
    /// <summary>
    /// Checks the body is a complete, well-formed coverage and counts the records in [from, to) without building
    /// them: a raw-only pipeline never pays for record objects. Throws <see cref="FormatException"/> like <see cref="Parse"/>.
    /// </summary>
    public static int Scan(ReadOnlyMemory<byte> body, DateTimeOffset from, DateTimeOffset to)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException("body is not a JSON object");
            var type = root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            var count = 0;
            switch (type)
            {
                case "CoverageCollection":
                    if (!root.TryGetProperty("coverages", out var coverages) || coverages.ValueKind != JsonValueKind.Array) throw new FormatException("CoverageCollection without coverages");
                    foreach (var c in coverages.EnumerateArray()) count += ScanCoverage(c, from, to);
                    break;
                case "Coverage":
                    count += ScanCoverage(root, from, to);
                    break;
                default:
                    throw new FormatException($"unexpected body type '{type ?? "(none)"}'");
            }
            return count;
        }
        catch (JsonException e)
        {
            throw new FormatException($"body is not JSON ({e.Message})", e);
        }
        catch (InvalidOperationException e)
        {
            throw new FormatException($"unexpected value type: {e.Message}", e);
        }
    }

    private static int ScanCoverage(JsonElement coverage, DateTimeOffset from, DateTimeOffset to)
    {
        if (coverage.ValueKind != JsonValueKind.Object) throw new FormatException("coverage is not an object");
        if (!coverage.TryGetProperty("eumetnet:locationId", out var id) || id.ValueKind != JsonValueKind.String) throw new FormatException("coverage without eumetnet:locationId");
        var station = id.GetString();
        if (!coverage.TryGetProperty("domain", out var domain) || domain.ValueKind != JsonValueKind.Object
            || !domain.TryGetProperty("axes", out var axes) || axes.ValueKind != JsonValueKind.Object
            || !axes.TryGetProperty("t", out var tAxis) || tAxis.ValueKind != JsonValueKind.Object
            || !tAxis.TryGetProperty("values", out var times) || times.ValueKind != JsonValueKind.Array)
            throw new FormatException($"coverage {station} without a t axis");
        var n = times.GetArrayLength();
        if (!coverage.TryGetProperty("ranges", out var ranges) || ranges.ValueKind != JsonValueKind.Object) throw new FormatException($"coverage {station} without ranges");
        foreach (var range in ranges.EnumerateObject())
        {
            if (range.Value.ValueKind != JsonValueKind.Object || !range.Value.TryGetProperty("values", out var values) || values.ValueKind != JsonValueKind.Array)
                throw new FormatException($"coverage {station}: range {range.Name} without values");
            if (values.GetArrayLength() != n) throw new FormatException($"coverage {station}: range {range.Name} has {values.GetArrayLength()} values for {n} times");
        }
        var count = 0;
        foreach (var stamp in times.EnumerateArray())
        {
            // The ISO 8601 fast path of System.Text.Json; stamps without a zone are read as UTC.
            if (stamp.ValueKind != JsonValueKind.String || !stamp.TryGetDateTimeOffset(out var t))
                throw new FormatException($"coverage {station}: bad time {stamp.GetRawText()}");
            if (t >= from && t < to) count++;
        }
        return count;
    }

    /// <summary>Throws <see cref="FormatException"/> when the body is not a well-formed coverage.</summary>
    public static List<Record> Parse(ReadOnlySpan<byte> body, DateTimeOffset from, DateTimeOffset to)
    {
        try
        {
            return ParseCore(body, from, to);
        }
        catch (InvalidOperationException e)
        {
            // A node of the wrong kind (a number where a string belongs, an array for an object).
            throw new FormatException($"unexpected value type: {e.Message}", e);
        }
    }

    private static List<Record> ParseCore(ReadOnlySpan<byte> body, DateTimeOffset from, DateTimeOffset to)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            throw new FormatException($"body is not JSON ({e.Message})", e);
        }
        if (root is not JsonObject obj) throw new FormatException("body is not a JSON object");
        var type = (string?)obj["type"];
        var rows = new Rows();
        switch (type)
        {
            case "CoverageCollection":
                if (obj["coverages"] is not JsonArray coverages) throw new FormatException("CoverageCollection without coverages");
                foreach (var c in coverages)
                {
                    if (c is not JsonObject co) throw new FormatException("coverage is not an object");
                    ReadCoverage(co, rows, from, to);
                }
                break;
            case "Coverage":
                ReadCoverage(obj, rows, from, to);
                break;
            default:
                throw new FormatException($"unexpected body type '{type ?? "(none)"}'");
        }
        return rows.ToRecords();
    }

    /// <summary>
    /// Records written straight to UTF-8 JSON, one buffer per body: no object per record or per value (a destination
    /// reads the text; <see cref="Record.Fields"/> parses it if a transform asks).
    /// </summary>
    private sealed class Rows
    {
        private static readonly JsonWriterOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        private readonly System.Buffers.ArrayBufferWriter<byte> _buffer = new(1 << 16);
        private readonly List<(int Start, int Length, DateTimeOffset Time)> _rows = [];

        public Utf8JsonWriter Writer { get; }

        public Rows() => Writer = new Utf8JsonWriter(_buffer, Options);

        /// <summary>Ends the record the writer holds: one complete object since the last call.</summary>
        public void End(int start, DateTimeOffset time)
        {
            Writer.Flush();
            _rows.Add((start, _buffer.WrittenCount - start, time));
            // A fresh top-level value for the next record (no separator after this one).
            Writer.Reset(_buffer);
        }

        public int Position => _buffer.WrittenCount;

        public List<Record> ToRecords()
        {
            var memory = _buffer.WrittenMemory;
            var records = new List<Record>(_rows.Count);
            foreach (var (start, length, time) in _rows) records.Add(Record.FromUtf8(memory.Slice(start, length), time));
            return records;
        }
    }

    private static void ReadCoverage(JsonObject coverage, Rows rows, DateTimeOffset from, DateTimeOffset to)
    {
        var station = (string?)coverage["eumetnet:locationId"] ?? throw new FormatException("coverage without eumetnet:locationId");
        var axes = coverage["domain"]?["axes"] as JsonObject ?? throw new FormatException($"coverage {station} without domain axes");
        var times = axes["t"]?["values"] as JsonArray ?? throw new FormatException($"coverage {station} without t axis");
        var x = axes["x"]?["values"]?[0]?.GetValue<double>();
        var y = axes["y"]?["values"]?[0]?.GetValue<double>();
        var ranges = coverage["ranges"] as JsonObject ?? throw new FormatException($"coverage {station} without ranges");
        var columns = new List<(string Name, JsonArray Values)>();
        foreach (var (name, range) in ranges)
        {
            if (range?["values"] is not JsonArray values) throw new FormatException($"coverage {station}: range {name} without values");
            if (values.Count != times.Count) throw new FormatException($"coverage {station}: range {name} has {values.Count} values for {times.Count} times");
            columns.Add((name, values));
        }
        for (var i = 0; i < times.Count; i++)
        {
            var stamp = (string?)times[i] ?? throw new FormatException($"coverage {station}: null time");
            if (!DateTimeOffset.TryParse(stamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
                throw new FormatException($"coverage {station}: bad time '{stamp}'");
            if (t < from || t >= to) continue;
            var start = rows.Position;
            var w = rows.Writer;
            w.WriteStartObject();
            w.WriteString("station", station);
            w.WriteString("time", stamp);
            WriteNumber(w, "lat", y);
            WriteNumber(w, "lon", x);
            foreach (var (name, values) in columns)
            {
                w.WritePropertyName(name);
                if (values[i] is { } value) value.WriteTo(w);
                else w.WriteNullValue();
            }
            w.WriteEndObject();
            rows.End(start, t);
        }
    }

    private static void WriteNumber(Utf8JsonWriter writer, string name, double? value)
    {
        if (value is { } v) writer.WriteNumber(name, v);
        else writer.WriteNull(name);
    }
}
