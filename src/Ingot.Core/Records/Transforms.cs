using System.Globalization;
using System.Text.Json.Nodes;
using Ingot.Config;

namespace Ingot.Records;

/// <summary>A record transform; applied to records, never to the raw archive.</summary>
public interface ITransform
{
    /// <summary>Changes the record in place; throws <see cref="FormatException"/> naming the field when it cannot.</summary>
    void Apply(JsonObject record);
}

/// <summary>The transform registry: a name in the pipeline file → an instance built from its settings (validated at load).</summary>
public static class Transforms
{
    private static readonly Dictionary<string, Func<IReadOnlyDictionary<string, string>, ITransform>> Factories = new(StringComparer.Ordinal)
    {
        ["split"] = s => new SplitTransform(s["field"], s["separator"]),
        ["epoch_ms"] = s => new EpochMsTransform(s["field"], s["as"], s.TryGetValue("timezone", out var tz) ? TimeZoneInfo.FindSystemTimeZoneById(tz) : TimeZoneInfo.Utc),
    };

    public static IReadOnlyList<ITransform> Build(IEnumerable<TransformSpec> specs) => specs.Select(s => Factories[s.Name](s.Settings)).ToList();
}

/// <summary><c>split: {field, separator}</c>: the field becomes the list of its parts, empty parts kept (<c>",,HI"</c> → <c>["","","HI"]</c>).</summary>
public sealed class SplitTransform(string field, string separator) : ITransform
{
    public void Apply(JsonObject record)
    {
        var node = record[field];
        if (node is null) return;
        if (node is JsonArray) return; // already split (idempotent on re-processing)
        var text = node.GetValueKind() == System.Text.Json.JsonValueKind.String ? node.GetValue<string>() : throw new FormatException($"split: field '{field}' is not a string");
        var parts = new JsonArray();
        foreach (var p in text.Split(separator)) parts.Add(p);
        record[field] = parts;
    }
}

/// <summary><c>epoch_ms: {field, as, timezone}</c>: adds int64 <c>as</c> = the field's time in epoch milliseconds; keeps the field. A time without a zone is read in <c>timezone</c> (default UTC).</summary>
public sealed class EpochMsTransform(string field, string target, TimeZoneInfo zone) : ITransform
{
    public void Apply(JsonObject record)
    {
        var node = record[field];
        if (node is null)
        {
            record[target] = null;
            return;
        }
        var text = node.GetValue<string>();
        DateTimeOffset t;
        if (DateTimeOffset.TryParseExact(text, ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var zoned)
            && (text.EndsWith('Z') || text.Contains('+', StringComparison.Ordinal) || text.LastIndexOf('-') > 9))
        {
            t = zoned;
        }
        else if (DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
        {
            var unspecified = DateTime.SpecifyKind(local, DateTimeKind.Unspecified);
            t = new DateTimeOffset(unspecified, zone.GetUtcOffset(unspecified));
        }
        else
        {
            throw new FormatException($"epoch_ms: field '{field}' value '{text}' is not a time");
        }
        record[target] = t.ToUnixTimeMilliseconds();
    }
}
