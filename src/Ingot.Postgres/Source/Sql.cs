namespace Ingot.Postgres.Source;

/// <summary>Identifier quoting for the statements the source builds (names come from the pipeline file, never from data).</summary>
internal static class Sql
{
    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary><c>public.orders</c> → [public, orders]; <c>orders</c> → [orders]; a quoted part keeps its dots. Null when malformed.</summary>
    public static IReadOnlyList<string>? SplitName(string name)
    {
        var parts = new List<string>();
        var i = 0;
        while (i < name.Length)
        {
            string part;
            if (name[i] == '"')
            {
                var sb = new System.Text.StringBuilder();
                i++;
                while (true)
                {
                    if (i >= name.Length) return null;
                    if (name[i] == '"')
                    {
                        if (i + 1 < name.Length && name[i + 1] == '"') { sb.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    sb.Append(name[i++]);
                }
                part = sb.ToString();
            }
            else
            {
                var dot = name.IndexOf('.', i);
                var end = dot < 0 ? name.Length : dot;
                // Unquoted names fold to lower case, as PostgreSQL folds them.
                part = name[i..end].Trim().ToLowerInvariant();
                i = end;
            }
            if (part.Length == 0) return null;
            parts.Add(part);
            if (i < name.Length)
            {
                if (name[i] != '.') return null;
                i++;
                if (i == name.Length) return null;
            }
        }
        return parts.Count is >= 1 and <= 3 ? parts : null;
    }

    public static string QuoteName(string name) => string.Join('.', SplitName(name)!.Select(Quote));
}
