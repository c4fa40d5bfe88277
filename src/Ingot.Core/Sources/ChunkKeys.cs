using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Ingot.Sources;

/// <summary>Deterministic, file-name-safe chunk keys.</summary>
public static class ChunkKeys
{
    public static string Stamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);

    /// <summary><c>06260-06240_20000101T000000Z_20000301T000000Z</c>; large groups as <c>06260+7-1a2b3c</c>.</summary>
    public static string For(IReadOnlyList<string> stations, DateTimeOffset from, DateTimeOffset to)
    {
        string part;
        var shorts = stations.Select(Short).ToList();
        if (shorts.Count <= 3)
        {
            part = string.Join('-', shorts);
        }
        else
        {
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(',', stations))))[..6];
            part = $"{shorts[0]}+{shorts.Count - 1}-{hash}";
        }
        return $"{part}_{Stamp(from)}_{Stamp(to)}";
    }

    /// <summary>The last segment of a WIGOS id or the id after a ':' prefix, made safe for a file name.</summary>
    public static string Short(string station)
    {
        var s = station;
        var colon = s.LastIndexOf(':');
        if (colon >= 0) s = s[(colon + 1)..];
        var dash = s.LastIndexOf('-');
        if (dash >= 0 && dash < s.Length - 1 && s.Count(c => c == '-') >= 3) s = s[(dash + 1)..];
        return Safe(s);
    }

    public static string Safe(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s) sb.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '+' ? c : '_');
        return sb.ToString();
    }
}
