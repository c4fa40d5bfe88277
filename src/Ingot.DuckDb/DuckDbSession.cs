using System.Data;
using DuckDB.NET.Data;
using DuckDB.NET.Native;

namespace Ingot.DuckDb;

/// <summary>
/// Rows of a query, each an array of the provider's typed values (or null), with the column names. Values are what
/// DuckDB.NET reads for the column's type: BIGINT → long, INTEGER → int, DECIMAL → decimal, DOUBLE → double,
/// BOOLEAN → bool, VARCHAR and ENUM → string, DATE → DateOnly, TIMESTAMP → DateTime, LIST → List&lt;T&gt;,
/// STRUCT → Dictionary&lt;string, object&gt;; two are normalized here: TIMESTAMPTZ → a UTC <see cref="DateTimeOffset"/>
/// and BLOB → byte[] (the provider's stream dies with its reader).
/// </summary>
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
/// SQL through DuckDB's ADO.NET provider (DuckDB.NET.Data): one connection to a database (in memory unless a path is
/// given, or one of a <see cref="DuckDbDatabase"/>), for the destinations, tests, <c>ingot</c> commands and benchmarks,
/// e.g. <c>SELECT count(*) FROM read_parquet($1, hive_partitioning=true)</c> with the glob as a parameter.
/// Parameters are positional (<c>$1</c>, <c>$2</c>, … or <c>?</c>); DuckDB takes them in table functions
/// (<c>read_parquet($1)</c>) and as a <c>COPY … TO $1</c> target, not in type definitions or <c>COPY</c> options, where
/// <see cref="Literal"/> quotes. The session's time zone is UTC. Not thread-safe: one session per thread.
/// Errors are <see cref="DuckDbException"/> with DuckDB's message.
/// </summary>
internal sealed class DuckDbSession : IDisposable
{
    /// <summary>The provider's data source for a private in-memory database (one per connection opened on it).</summary>
    private const string InMemory = ":memory:";

    private readonly DuckDBConnection _connection;

    /// <summary>Takes over an open connection.</summary>
    internal DuckDbSession(DuckDBConnection connection)
    {
        _connection = connection;
        try
        {
            Execute("SET TimeZone='UTC'");
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>A session on a database file (created if missing), or on a new in-memory database when <paramref name="path"/> is null.</summary>
    public static DuckDbSession Open(string? path = null) => new(OpenConnection(path));

    /// <summary>DuckDB's version string, e.g. <c>v1.5.6</c>.</summary>
    public static string LibraryVersion => Loading(NativeMethods.Startup.DuckDBLibraryVersion);

    /// <summary>The provider's connection: for the native Arrow scan, which must run on the connection the SQL uses.</summary>
    internal DuckDBConnection Connection => _connection;

    /// <summary>Runs a statement; returns the rows it changed.</summary>
    public long Execute(string sql, params object?[] parameters)
    {
        using var command = Command(sql, parameters);
        return Run(command.ExecuteNonQuery);
    }

    /// <summary>Runs a query and reads every row (the first result set, for several statements).</summary>
    public QueryRows Query(string sql, params object?[] parameters)
    {
        using var command = Command(sql, parameters);
        return Run(() =>
        {
            using var reader = command.ExecuteReader();
            var columns = new string[reader.FieldCount];
            var timestampTz = new bool[columns.Length];
            for (var c = 0; c < columns.Length; c++)
            {
                columns[c] = reader.GetName(c);
                timestampTz[c] = reader.GetDataTypeName(c) == nameof(DuckDBType.TimestampTz);
            }
            var rows = new List<object?[]>();
            while (reader.Read())
            {
                var row = new object?[columns.Length];
                for (var c = 0; c < row.Length; c++)
                {
                    if (reader.IsDBNull(c)) continue;
                    row[c] = reader.GetValue(c) switch
                    {
                        // The provider reads a TIMESTAMPTZ as the UTC wall-clock DateTime (kind Unspecified): the instant it is.
                        DateTime d when timestampTz[c] => new DateTimeOffset(DateTime.SpecifyKind(d, DateTimeKind.Utc)),
                        Stream s => Bytes(s),
                        var v => v,
                    };
                }
                rows.Add(row);
            }
            return new QueryRows(columns, rows);
        });
    }

    /// <summary>The first column of the first row, or null.</summary>
    public object? Scalar(string sql, params object?[] parameters)
    {
        var rows = Query(sql, parameters);
        return rows.Count == 0 ? null : rows[0][0];
    }

    /// <summary>Quotes a string as a SQL literal (where DuckDB takes no parameter: type definitions, COPY options).</summary>
    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>Quotes an identifier.</summary>
    public static string Identifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public void Dispose() => _connection.Dispose();

    /// <summary>Opens a provider connection: to <paramref name="path"/>, or to a new in-memory database.</summary>
    internal static DuckDBConnection OpenConnection(string? path)
    {
        var connection = new DuckDBConnection(new DuckDBConnectionStringBuilder { DataSource = path ?? InMemory }.ConnectionString);
        try
        {
            Loading(connection.Open);
            return connection;
        }
        catch (DuckDBException e)
        {
            connection.Dispose();
            throw new DuckDbException($"DuckDB could not open {(path is null ? "an in-memory database" : $"'{path}'")}: {e.Message}", e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private DuckDBCommand Command(string sql, object?[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var p in parameters) command.Parameters.Add(new DuckDBParameter(p ?? DBNull.Value));
        return command;
    }

    private static T Run<T>(Func<T> run)
    {
        try
        {
            return run();
        }
        catch (DuckDBException e)
        {
            // The statement itself stays out of the message: it may be long (a COPY's field ids), and its values are
            // parameters or data paths the caller names in its own error.
            throw new DuckDbException($"DuckDB query failed: {e.Message}", e);
        }
    }

    private static byte[] Bytes(Stream stream)
    {
        using (stream)
        {
            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            return bytes;
        }
    }

    /// <summary>Runs the first call into the native library with an error that says where it comes from when it is missing.</summary>
    private static T Loading<T>(Func<T> call)
    {
        try
        {
            return call();
        }
        catch (DllNotFoundException e)
        {
            throw new DuckDbException(
                "Ingot could not load DuckDB's native library (libduckdb.so): the build copies it from the DuckDB.NET.Bindings.Full package " +
                $"next to the binaries (linux-x64); for another platform build with -r <rid>. {e.Message}", e);
        }
    }

    private static void Loading(Action call) => Loading(() => { call(); return 0; });
}

/// <summary>An error DuckDB reported (a failed query or open). Never transient: retrying the same SQL fails the same way.</summary>
internal sealed class DuckDbException(string message, Exception? inner = null) : Exception(message, inner);
