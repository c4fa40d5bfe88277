namespace Ingot.Config;

/// <summary>"Did you mean …?" for a misspelt key or field name: the closest known name within a small edit distance.</summary>
public static class Spelling
{
    public static string? Closest(string word, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            if (candidate.Length == 0 || string.Equals(candidate, word, StringComparison.Ordinal)) continue;
            var d = Distance(word.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (d < bestDistance) (best, bestDistance) = (candidate, d);
        }
        // One edit in four characters at most (at least one): "destinatons" → "destinations", never "name" → "type".
        return best is not null && bestDistance <= Math.Max(1, Math.Min(word.Length, best.Length) / 4) ? best : null;
    }

    /// <summary>" (did you mean x?)", or empty.</summary>
    public static string Hint(string word, IEnumerable<string> known) => Closest(word, known) is { } c ? $" (did you mean {c}?)" : "";

    /// <summary>Optimal string alignment distance (Levenshtein with adjacent transpositions).</summary>
    internal static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        }
        return d[a.Length, b.Length];
    }
}
