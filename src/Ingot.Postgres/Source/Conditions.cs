using Npgsql;

namespace Ingot.Postgres.Source;

/// <summary>
/// The keyset conditions of one page: <c>(cursor, key) &gt; (after)</c> or <c>cursor &gt;= fence</c> below,
/// <c>(cursor, key) &lt;= (upto)</c> or <c>cursor &lt; fence</c> above — row-value comparisons an index on
/// <c>(cursor, key…)</c> serves. Values travel as text parameters cast to the column's type, so a key of any type keeps
/// its exact value.
/// </summary>
internal sealed class Conditions(StreamShape shape)
{
    private readonly List<string> _parts = shape.Spec.Cursor is { } c ? [$"ingot_q.{Source.Sql.Quote(c)} IS NOT NULL"] : [];
    private readonly List<(string Name, string Value)> _params = [];

    public string Text => _parts.Count == 0 ? "TRUE" : string.Join(" AND ", _parts);

    public void After(KeysetPosition? after)
    {
        if (after is null) return;
        if (after.Key is { } key) _parts.Add($"({Columns(key.Count)}) > ({Params("a", key)})");
        else if (shape.HasCursor) _parts.Add($"ingot_q.{Source.Sql.Quote(shape.Spec.Cursor!)} >= {Params("a", [after.Fence])}");
        else _parts.Add("FALSE"); // after the end of a full read: nothing
    }

    public void Before(KeysetPosition upTo)
    {
        if (upTo.Key is { } key) _parts.Add($"({Columns(key.Count)}) <= ({Params("b", key)})");
        else if (shape.HasCursor) _parts.Add($"ingot_q.{Source.Sql.Quote(shape.Spec.Cursor!)} < {Params("b", [upTo.Fence])}");
    }

    private string Columns(int count)
    {
        if (count != shape.KeyColumns.Count) throw new FormatException($"a keyset position of {count} values for a key of {shape.KeyColumns.Count} columns (the primary key or cursor changed since the unit was planned)");
        return string.Join(", ", shape.KeyColumns.Select(k => "ingot_q." + Source.Sql.Quote(k)));
    }

    private string Params(string prefix, IReadOnlyList<string> values)
    {
        var names = new List<string>(values.Count);
        for (var i = 0; i < values.Count; i++)
        {
            var name = $"{prefix}{i}";
            _params.Add((name, values[i]));
            names.Add(shape.Param(prefix, i));
        }
        return string.Join(", ", names);
    }

    public NpgsqlCommand Command(string sql, NpgsqlConnection conn)
    {
        var cmd = new NpgsqlCommand(sql, conn);
        foreach (var (name, value) in _params) cmd.Parameters.AddWithValue(name, NpgsqlTypes.NpgsqlDbType.Text, value);
        return cmd;
    }

    /// <summary>For people: <c>(a, b]</c> of the page.</summary>
    public static string Describe(KeysetPosition? after, KeysetPosition upTo) => $"({after?.ToString() ?? "start"}, {upTo}]";
}
