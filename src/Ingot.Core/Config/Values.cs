using System.Globalization;
using System.Text.RegularExpressions;

namespace Ingot.Config;

/// <summary>Parsers for the value syntaxes of pipeline files: durations, ranges, rates, periods, times.</summary>
public static partial class Values
{
    [GeneratedRegex(@"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")]
    private static partial Regex DurationRegex();

    [GeneratedRegex(@"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h|sec|second|min|minute)\s*$")]
    private static partial Regex RateRegex();

    [GeneratedRegex(@"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")]
    private static partial Regex PeriodRegex();

    /// <summary><c>100ms</c>, <c>10s</c>, <c>2m</c>, <c>1h</c>, <c>1d</c>.</summary>
    public static bool TryDuration(string text, out TimeSpan value)
    {
        value = default;
        var m = DurationRegex().Match(text);
        if (!m.Success) return false;
        var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        value = m.Groups[2].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            _ => TimeSpan.FromDays(n),
        };
        return true;
    }

    /// <summary><c>1s..60s</c>.</summary>
    public static bool TryDurationRange(string text, out TimeSpan min, out TimeSpan max)
    {
        min = max = default;
        var parts = text.Split("..");
        return parts.Length == 2 && TryDuration(parts[0], out min) && TryDuration(parts[1], out max) && min <= max && min > TimeSpan.Zero;
    }

    /// <summary><c>30/s</c>, <c>100/m</c> → requests per second.</summary>
    public static bool TryRate(string text, out double perSecond)
    {
        perSecond = 0;
        var m = RateRegex().Match(text);
        if (!m.Success) return false;
        var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        perSecond = m.Groups[2].Value[0] switch
        {
            's' => n,
            'm' => n / 60,
            _ => n / 3600,
        };
        return perSecond > 0;
    }

    /// <summary>ISO-8601 period: <c>P1D</c>, <c>PT1H</c>, <c>PT10M</c>, <c>P1M</c>.</summary>
    public static bool TryPeriod(string text, out IsoPeriod period)
    {
        period = null!;
        var m = PeriodRegex().Match(text.Trim());
        if (!m.Success || text.Trim() is "P" or "PT") return false;
        int G(int i) => m.Groups[i].Success ? int.Parse(m.Groups[i].Value, CultureInfo.InvariantCulture) : 0;
        var months = G(1) * 12 + G(2);
        var duration = TimeSpan.FromDays(G(3) * 7 + G(4)) + new TimeSpan(G(5), G(6), G(7));
        if (months == 0 && duration <= TimeSpan.Zero) return false;
        period = new IsoPeriod(months, duration, text.Trim());
        return true;
    }

    /// <summary>An instant: <c>2000-01-01T00:00:00Z</c>, <c>2000-01-01</c> (midnight UTC); no zone → UTC.</summary>
    public static bool TryInstant(string text, out DateTimeOffset value) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value);

    public static string FormatDuration(TimeSpan t) =>
        t.TotalMilliseconds < 1000 ? $"{t.TotalMilliseconds:0}ms" : t.TotalSeconds < 120 ? $"{t.TotalSeconds:0.##}s" : $"{t.TotalMinutes:0.##}m";
}
