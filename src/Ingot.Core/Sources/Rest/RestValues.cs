using System.Globalization;
using System.Text.Json;

namespace Ingot.Sources.Rest;

/// <summary>Dot paths into JSON (<c>meta.next_cursor</c>, <c>customer.id</c>, <c>items.0.sku</c>).</summary>
internal static class DotPath
{
    /// <summary>The value at <paramref name="path"/>, or false when a segment is missing (a JSON null is found, not missing).</summary>
    // A stream has a handful of paths, read for every record: split each once.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string[]> Segments = new(StringComparer.Ordinal);

    public static bool TryGet(JsonElement root, string path, out JsonElement value)
    {
        value = root;
        foreach (var segment in Segments.GetOrAdd(path, p => p.Split('.')))
        {
            if (value.ValueKind == JsonValueKind.Object)
            {
                if (!value.TryGetProperty(segment, out value)) return false;
            }
            else if (value.ValueKind == JsonValueKind.Array && int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < value.GetArrayLength())
            {
                value = value[i];
            }
            else
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A string, number or boolean as text; null for absent, JSON null, empty strings, objects and arrays.</summary>
    public static string? Text(JsonElement root, string path)
    {
        if (!TryGet(root, path, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString() is { Length: > 0 } s ? s : null,
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => v.GetRawText(),
            _ => null,
        };
    }
}

/// <summary>
/// Cursor values of incremental streams: the times a record field holds (ISO 8601 with or without offset, epoch seconds
/// or milliseconds), the checkpoint's text form, and the lower bound as the API's <c>since</c> parameter wants it.
/// </summary>
internal static class CursorTime
{
    /// <summary>
    /// A time from a record field: an ISO 8601 string (no zone: UTC), or epoch seconds / milliseconds — a JSON number, or a
    /// string of digits when the format says epoch (in an ISO 8601 stream <c>"20240115"</c> is not silently a 1970 time).
    /// </summary>
    public static bool TryRead(JsonElement v, SinceFormat format, out DateTimeOffset time)
    {
        time = default;
        switch (v.ValueKind)
        {
            case JsonValueKind.String:
            {
                var s = v.GetString()!;
                if (format != SinceFormat.Iso8601 && s.Length > 0 && s.All(c => char.IsAsciiDigit(c) || c == '.') && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
                    return FromEpoch(n, format, out time);
                if (!DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time)) return false;
                return true;
            }
            case JsonValueKind.Number:
                return v.TryGetDouble(out var d) && FromEpoch(d, format, out time);
            default:
                return false;
        }
    }

    private static bool FromEpoch(double n, SinceFormat format, out DateTimeOffset time)
    {
        time = default;
        // A number in an ISO-8601 stream's field: milliseconds when it is too large to be seconds (after the year 5138).
        var ms = format switch
        {
            SinceFormat.EpochMilliseconds => n,
            SinceFormat.EpochSeconds => n * 1000,
            _ => n >= 1e11 ? n : n * 1000,
        };
        if (double.IsNaN(ms) || ms < -62_135_596_800_000d || ms > 253_402_300_799_999d) return false;
        time = DateTimeOffset.UnixEpoch.AddTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond));
        return true;
    }

    /// <summary>The checkpoint's text: UTC ISO 8601 with the fraction only as long as it needs (<c>2024-01-15T10:30:00Z</c>, <c>…00.25Z</c>).</summary>
    public static string Format(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    public static bool TryParse(string? text, out DateTimeOffset time)
    {
        time = default;
        return text is not null && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);
    }

    /// <summary>
    /// The lower bound as sent: rounded down to what the format can say (whole seconds for ISO 8601 and epoch seconds,
    /// milliseconds for epoch_ms), so the API never starts after the bound; the client-side filter is exact.
    /// </summary>
    public static string Since(DateTimeOffset t, SinceFormat format)
    {
        var u = t.ToUniversalTime();
        return format switch
        {
            SinceFormat.EpochSeconds => FloorDiv(u.ToUnixTimeMilliseconds(), 1000).ToString(CultureInfo.InvariantCulture),
            SinceFormat.EpochMilliseconds => FloorDiv(u.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks, TimeSpan.TicksPerMillisecond).ToString(CultureInfo.InvariantCulture),
            _ => u.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        };
    }

    private static long FloorDiv(long a, long b) => a / b - (a % b < 0 ? 1 : 0);

    /// <summary>A time for a chunk key: <c>20240115T103000Z</c>, with milliseconds when the time has them.</summary>
    public static string Stamp(DateTimeOffset t)
    {
        var u = t.UtcDateTime;
        return u.ToString(u.Ticks % TimeSpan.TicksPerSecond == 0 ? "yyyyMMdd'T'HHmmss'Z'" : "yyyyMMdd'T'HHmmss'.'fffffff'Z'", CultureInfo.InvariantCulture);
    }
}
