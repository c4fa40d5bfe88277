using Ingot.DuckDb.Native;

namespace Ingot.DuckDb;

/// <summary>Rows of a query, each an array of boxed values (long, double, bool, string or null), with the column names.</summary>
internal sealed class QueryRows(IReadOnlyList<string> columns, IReadOnlyList<object?[]> rows) : IReadOnlyList<object?[]>
{
    public IReadOnlyList<string> Columns { get; } = columns;
    public int Count => rows.Count;
    public object?[] this[int index] => rows[index];
    public int Ordinal(string column)
    {
        for (var i = 0; i < Columns.Count; i++)
            if (string.Equals(Columns[i], column, StringComparison.OrdinalIgnoreCase)) return i;
        throw new ArgumentException($"no column '{column}' (columns: {string.Join(", ", Columns)})", nameof(column));
    }
    public IEnumerator<object?[]> GetEnumerator() => rows.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// SQL over bronze files: a DuckDB database (in memory unless a path is given) with one connection, for tests,
/// <c>ingot</c> commands and benchmarks, e.g. <c>SELECT count(*) FROM read_parquet('lake/**/*.parquet', hive_partitioning=true)</c>.
/// Not thread-safe. Timestamps with time zone are rendered in UTC. LIST and STRUCT values come back as null unless cast
/// to VARCHAR in SQL.
/// </summary>
internal sealed class DuckDbSession : IDisposable
{
    private readonly DuckDbDatabase _database;
    private readonly DuckDbConnection _connection;

    private DuckDbSession(DuckDbDatabase database)
    {
        _database = database;
        _connection = database.Connect();
        _connection.Execute("SET TimeZone='UTC'");
    }

    public static DuckDbSession Open(string? path = null) => new(DuckDbDatabase.Open(path));

    /// <summary>DuckDB's version string, e.g. <c>v1.5.6</c>.</summary>
    public static string LibraryVersion => NativeMethods.LibraryVersion();

    internal DuckDbConnection Connection => _connection;

    /// <summary>Runs a statement; returns the rows it changed.</summary>
    public long Execute(string sql) => _connection.Execute(sql);

    public QueryRows Query(string sql)
    {
        using var result = _connection.Query(sql);
        var columnCount = result.ColumnCount;
        var columns = new string[columnCount];
        for (var c = 0; c < columnCount; c++) columns[c] = result.ColumnName(c);
        var rowCount = result.RowCount;
        var rows = new List<object?[]>((int)Math.Min(rowCount, 1 << 20));
        for (long r = 0; r < rowCount; r++)
        {
            var row = new object?[columnCount];
            for (var c = 0; c < columnCount; c++) row[c] = result.GetValue(c, r);
            rows.Add(row);
        }
        return new QueryRows(columns, rows);
    }

    /// <summary>The first column of the first row, or null.</summary>
    public object? Scalar(string sql)
    {
        var rows = Query(sql);
        return rows.Count == 0 ? null : rows[0][0];
    }

    /// <summary>Quotes a string as a SQL literal.</summary>
    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>Quotes an identifier.</summary>
    public static string Identifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public void Dispose()
    {
        _connection.Dispose();
        _database.Dispose();
    }
}
