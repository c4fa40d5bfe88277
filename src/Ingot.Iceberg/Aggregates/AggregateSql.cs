using System.Globalization;
using System.Text;
using Ingot.Config;
using Ingot.DuckDb;
using Ingot.Iceberg.Table;

namespace Ingot.Iceberg.Aggregates;

/// <summary>
/// The SQL of an incremental aggregate (DuckDB): the measures of a set of bronze data files, and the merge of the previous
/// result with the files added (+) and removed (−) since its watermark. Every measure is a sum over rows, so a group's
/// merged value is the sum of its parts, and a group none of whose rows is left (<see cref="AggregateReader.RowsColumn"/> 0) goes.
/// </summary>
internal static class AggregateSql
{
    public const string RowsColumn = AggregateReader.RowsColumn;

    /// <summary>The result table's columns: the group columns (typed as in the bronze table), the row count, the measures, the derived values.</summary>
    public static List<(string Name, string Type)> Columns(AggregateSpec aggregate, IcebergSchema bronze, string table)
    {
        var columns = new List<(string, string)>();
        foreach (var g in aggregate.GroupBy)
        {
            var field = bronze.Field(g.Name)
                ?? throw new ConfigException($"{g.Location}: aggregates.{aggregate.Name}.group_by: '{g.Name}' is not a column of table {table}{Spelling.Hint(g.Name, bronze.Fields.Select(f => f.Name))} (columns: {string.Join(", ", bronze.Fields.Select(f => f.Name).Where(n => !n.StartsWith('_')))})");
            if (DuckType(field.Type) is null)
                throw new ConfigException($"{g.Location}: aggregates.{aggregate.Name}.group_by: column '{g.Name}' of table {table} is a {field.Type}; group columns must be strings, numbers, booleans or timestamps");
            columns.Add((g.Name, field.Type));
        }
        columns.Add((RowsColumn, "long"));
        foreach (var m in aggregate.Measures) columns.Add((m.Name, m.Function == "count" ? "long" : "double"));
        foreach (var d in aggregate.Derived) columns.Add((d.Name, "double"));
        return columns;
    }

    public static string? DuckType(string icebergType) => icebergType switch
    {
        "long" => "BIGINT",
        "double" => "DOUBLE",
        "string" => "VARCHAR",
        "boolean" => "BOOLEAN",
        "timestamptz" => "TIMESTAMPTZ",
        _ => null,
    };

    private static string Id(string name) => DuckDbSession.Identifier(name);

    private static string Files(IReadOnlyList<string> files) => "[" + string.Join(", ", files.Select(DuckDbSession.Literal)) + "]";

    /// <summary>The measures of <paramref name="files"/> per group, negated for files that left the table.</summary>
    public static string Delta(AggregateSpec aggregate, IReadOnlyList<string> files, bool negate)
    {
        var sign = negate ? "-" : "";
        var sql = new StringBuilder("SELECT ");
        foreach (var g in aggregate.GroupBy) sql.Append(Id(g.Name)).Append(", ");
        sql.Append(CultureInfo.InvariantCulture, $"{sign}count(*) AS {Id(RowsColumn)}");
        foreach (var m in aggregate.Measures)
        {
            var filter = m.Filter is null ? "" : $" FILTER (WHERE {m.Filter})";
            // A sum over no value is 0, not NULL: the same whether computed at once or merged from increments.
            var value = m.Function == "count"
                ? $"count({m.Argument ?? "*"}){filter}"
                : $"coalesce(CAST(sum({m.Argument}){filter} AS DOUBLE), 0)";
            sql.Append(CultureInfo.InvariantCulture, $", {sign}{value} AS {Id(m.Name)}");
        }
        sql.Append(CultureInfo.InvariantCulture, $" FROM read_parquet({Files(files)}, union_by_name = true) GROUP BY ALL");
        return sql.ToString();
    }

    /// <summary>
    /// The new result: the previous result's rows (<paramref name="previous"/>, none for a full recompute), plus the
    /// measures of <paramref name="added"/>, minus those of <paramref name="removed"/>, summed per group; the derived values
    /// computed again over the merged measures.
    /// </summary>
    public static string Merge(AggregateSpec aggregate, IReadOnlyList<(string Name, string Type)> columns, IReadOnlyList<string> previous, IReadOnlyList<string> added, IReadOnlyList<string> removed)
    {
        var groups = aggregate.GroupBy.Select(g => g.Name).ToList();
        var stored = columns.Take(groups.Count + 1 + aggregate.Measures.Count).ToList();
        // A typed empty part first: the result's types whatever parts follow (or none).
        var parts = new List<string> { "SELECT " + string.Join(", ", stored.Select(c => $"CAST(NULL AS {DuckType(c.Type)}) AS {Id(c.Name)}")) + " WHERE false" };
        if (previous.Count > 0) parts.Add($"SELECT {string.Join(", ", stored.Select(c => Id(c.Name)))} FROM read_parquet({Files(previous)}, union_by_name = true)");
        if (added.Count > 0) parts.Add(Delta(aggregate, added, negate: false));
        if (removed.Count > 0) parts.Add(Delta(aggregate, removed, negate: true));
        var merged = new StringBuilder("SELECT ");
        foreach (var g in groups) merged.Append(Id(g)).Append(", ");
        merged.Append(CultureInfo.InvariantCulture, $"CAST(sum({Id(RowsColumn)}) AS BIGINT) AS {Id(RowsColumn)}");
        foreach (var m in aggregate.Measures)
            merged.Append(CultureInfo.InvariantCulture, $", CAST(sum({Id(m.Name)}) AS {(m.Function == "count" ? "BIGINT" : "DOUBLE")}) AS {Id(m.Name)}");
        merged.Append(" FROM (").Append(string.Join(" UNION ALL BY NAME ", parts.Select(p => $"({p})"))).Append(") AS parts GROUP BY ALL");
        var outer = new StringBuilder("SELECT ");
        outer.Append(string.Join(", ", stored.Select(c => $"CAST({Id(c.Name)} AS {DuckType(c.Type)}) AS {Id(c.Name)}")));
        foreach (var d in aggregate.Derived) outer.Append(CultureInfo.InvariantCulture, $", CAST(({d.Expression}) AS DOUBLE) AS {Id(d.Name)}");
        outer.Append(CultureInfo.InvariantCulture, $" FROM ({merged}) AS merged WHERE {Id(RowsColumn)} <> 0");
        if (groups.Count > 0) outer.Append(" ORDER BY ").Append(string.Join(", ", groups.Select(Id)));
        return outer.ToString();
    }
}
